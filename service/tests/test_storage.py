"""Every storage backend behaves the same; SQLite outlives the process that wrote it; the
aws one (against moto's server, over HTTP) writes data before metadata and deletes it
after, and answers 503 in the API's error shape when S3 or DynamoDB fails."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import boto3

from support import aws_storage_env, free_port, make_settings
from fragments.app import create_app, make_storage
from fragments.config import Settings
from fragments.storage import AwsStorage, Fragment, MemoryStorage, SQLiteStorage, StorageUnavailable


def aws(env: dict) -> AwsStorage:
    return make_storage(Settings.from_env({**env, "LOG_LEVEL": "warning"}))


@pytest.fixture(params=["memory", "sqlite", "aws"])
def storage(request, tmp_path):
    if request.param == "aws":
        request.getfixturevalue("aws_credentials")
        return aws(aws_storage_env(request.getfixturevalue("moto_server")))
    return MemoryStorage() if request.param == "memory" else SQLiteStorage(str(tmp_path / "f.db"))


def fragment(owner="o", fragment_id="a", created="2026-01-01T00:00:00.000Z"):
    return Fragment(fragment_id, owner, created, created, "text/plain", 3)


def test_round_trip(storage):
    storage.save(fragment(), b"abc")
    assert storage.get("o", "a") == fragment()
    assert storage.data("o", "a") == b"abc"
    assert storage.get("other", "a") is None
    assert storage.data("other", "a") is None


def test_list_in_creation_order_per_owner(storage):
    storage.save(fragment(fragment_id="b", created="2026-01-02T00:00:00.000Z"), b"")
    storage.save(fragment(fragment_id="a"), b"")
    storage.save(fragment(owner="x", fragment_id="c"), b"")
    assert storage.ids("o") == ["a", "b"]
    assert [item.id for item in storage.all("o")] == ["a", "b"]


def test_delete(storage):
    storage.save(fragment(), b"abc")
    assert storage.delete("o", "a") is True
    assert storage.delete("o", "a") is False
    assert storage.ids("o") == []


def test_sqlite_data_survives_a_new_app(htpasswd, tmp_path, alice):
    settings = make_settings(htpasswd, FRAGMENTS_STORAGE="sqlite", FRAGMENTS_SQLITE_PATH=str(tmp_path / "db"))
    first = TestClient(create_app(settings))
    fragment_id = first.post("/v1/fragments", content=b"keep me",
                             headers={**alice, "Content-Type": "text/plain"}).json()["fragment"]["id"]
    second = TestClient(create_app(settings))
    assert second.get(f"/v1/fragments/{fragment_id}", headers=alice).content == b"keep me"


def test_unknown_storage_is_refused():
    with pytest.raises(ValueError, match="FRAGMENTS_STORAGE"):
        Settings.from_env({"FRAGMENTS_STORAGE": "redis"})


def test_bad_htpasswd_line_names_the_line(tmp_path):
    from fragments.auth import Htpasswd

    path = tmp_path / "htpasswd"
    path.write_text("alice:{SHA}abc\n")
    with pytest.raises(ValueError, match=r"htpasswd:1: expected 'user:<bcrypt hash>'"):
        Htpasswd.load(str(path))


def test_without_htpasswd_every_v1_request_is_refused(alice):
    client = TestClient(create_app(Settings.from_env({"LOG_LEVEL": "error"})))
    assert client.get("/", headers=alice).status_code == 200
    assert client.get("/v1/fragments", headers=alice).status_code == 401


def dead_endpoint() -> str:
    """An address where nothing listens: the service's view of S3 or DynamoDB being down."""
    return f"http://127.0.0.1:{free_port()}"


def moto(service: str, url: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def test_aws_keeps_bytes_in_s3_and_metadata_in_dynamodb(moto_server, aws_credentials):
    env = aws_storage_env(moto_server)
    storage = aws(env)
    storage.save(fragment(), b"abc")
    bucket = env["AWS_S3_BUCKET_NAME"]
    assert moto("s3", moto_server).get_object(Bucket=bucket, Key="o/a")["Body"].read() == b"abc"
    item = moto("dynamodb", moto_server).get_item(TableName=env["AWS_DYNAMODB_TABLE_NAME"],
                                                  Key={"ownerId": {"S": "o"}, "id": {"S": "a"}})["Item"]
    assert item["type"] == {"S": "text/plain"} and item["size"] == {"N": "3"}
    assert storage.ready() is None


def test_s3_down_at_save_leaves_no_metadata(moto_server, aws_credentials):
    env = aws_storage_env(moto_server, s3=dead_endpoint())
    with pytest.raises(StorageUnavailable, match=f"S3 bucket {env['AWS_S3_BUCKET_NAME']}: EndpointConnectionError"):
        aws(env).save(fragment(), b"abc")
    # The metadata is written only once the bytes are: nothing points at missing data.
    assert aws({**env, "AWS_S3_ENDPOINT_URL": moto_server}).ids("o") == []


def test_dynamodb_down_at_save_lists_nothing_and_delete_goes_metadata_first(moto_server, aws_credentials):
    env = aws_storage_env(moto_server, dynamodb=dead_endpoint())
    with pytest.raises(StorageUnavailable, match=f"DynamoDB table {env['AWS_DYNAMODB_TABLE_NAME']}"):
        aws(env).save(fragment(), b"abc")
    healthy = aws({**env, "AWS_DYNAMODB_ENDPOINT_URL": moto_server})
    assert healthy.ids("o") == [] and healthy.get("o", "a") is None
    # Delete with S3 down: the metadata goes first, so the fragment is gone for its owner
    # even though the bytes could not be removed (an object nobody lists, never the reverse).
    healthy.save(fragment(), b"abc")
    half = aws({**env, "AWS_DYNAMODB_ENDPOINT_URL": moto_server, "AWS_S3_ENDPOINT_URL": dead_endpoint()})
    with pytest.raises(StorageUnavailable, match="S3 bucket"):
        half.delete("o", "a")
    assert healthy.ids("o") == [] and healthy.get("o", "a") is None


def test_a_storage_error_answers_503_in_the_api_shape_and_health_says_which(moto_server, aws_credentials, htpasswd,
                                                                             alice):
    env = {**aws_storage_env(moto_server), "AWS_S3_BUCKET_NAME": "no-such-bucket-here"}
    client = TestClient(create_app(make_settings(htpasswd, **env)))
    answer = client.post("/v1/fragments", content=b"x", headers={**alice, "Content-Type": "text/plain"})
    assert answer.status_code == 503
    assert answer.json() == {"status": "error", "error": {
        "code": 503, "message": "storage unavailable: S3 bucket no-such-bucket-here: NoSuchBucket (PutObject)"}}
    assert answer.headers["Retry-After"] == "1"
    health = client.get("/")
    assert health.status_code == 503
    assert health.json()["error"]["message"] == "storage not ready: S3 bucket no-such-bucket-here: 404 (HeadBucket)"
    assert client.get("/v1/fragments", headers=alice).status_code == 200  # the table answers


def test_readiness_is_kept_so_probes_do_not_each_cost_a_call(moto_server, aws_credentials):
    storage = aws(aws_storage_env(moto_server))
    calls = []
    head_bucket = storage._s3.head_bucket
    storage._s3.head_bucket = lambda **kwargs: calls.append(kwargs) or head_bucket(**kwargs)
    for _ in range(20):
        assert storage.ready() is None
    assert len(calls) == 1


@pytest.mark.parametrize(("env", "message"), [
    ({"AWS_S3_BUCKET_NAME": "b"}, "the aws storage needs AWS_DYNAMODB_TABLE_NAME, AWS_REGION"),
    ({"FRAGMENTS_STORAGE": "aws", "AWS_REGION": "us-east-1"}, "needs AWS_S3_BUCKET_NAME, AWS_DYNAMODB_TABLE_NAME"),
])
def test_an_incomplete_aws_setting_is_refused_at_start(env, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_naming_the_bucket_and_table_chooses_aws():
    settings = Settings.from_env({"AWS_S3_BUCKET_NAME": "b", "AWS_DYNAMODB_TABLE_NAME": "t", "AWS_REGION": "eu-west-1"})
    assert settings.storage == "aws"
    assert Settings.from_env({}).storage == "memory"
