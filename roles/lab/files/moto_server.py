#!/usr/bin/env python3
"""moto's server with the answers it leaves out where AWS gives them, so that the
collection's modules run against it as against AWS. The lab's cloud (lab_cloud.py) and the
Molecule scenarios that talk to AWS both start moto through install().

    moto_server.py -H 127.0.0.1 -p PORT [--tls-dir DIR]

- DynamoDB DescribeTable has no TableId (moto 5.2): community.aws.dynamodb_table reads it.
- Policy conditions (moto 5.2): only StringEquals is evaluated, any other operator (Bool)
  counts as holding; a statement whose condition does not hold counts as a denial, where AWS
  does not apply it; a bucket policy is checked without aws:SecureTransport. So a bucket's
  TLS-only policy (Deny where aws:SecureTransport is false) refused every call. Here Bool is
  evaluated, a statement applies only where its condition holds, and aws:SecureTransport is
  true when the server speaks TLS (--tls-dir): over HTTPS the policy lets calls through,
  over plain HTTP it refuses them, as on AWS.
- ACM GetCertificate of an imported certificate (moto 5.2) adds moto's own root to the chain
  it was imported with; AWS returns the chain as imported (the certificate itself when there
  was none), which community.aws.acm_certificate compares to know nothing changed.

With --tls-dir it serves HTTPS, as AWS does, with a certificate for the address made once in
DIR (cert.pem, which clients name in AWS_CA_BUNDLE, and key.pem): moto enforces bucket
policies, and a TLS-only policy refuses every call over plain HTTP.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import uuid
from pathlib import Path

from moto import server
from moto.acm.models import CertBundle
from moto.dynamodb.models.table import Table
from moto.iam import policy_conditions
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
from moto.s3.models import FakeBucket


def install(secure_transport: bool = False) -> None:
    describe = Table.describe

    def described(self, base_key: str = "TableDescription"):
        result = describe(self, base_key)
        # Stable for the table's life, as AWS's is.
        result[base_key].setdefault("TableId", str(uuid.uuid5(uuid.NAMESPACE_URL, self.table_arn)))
        return result

    Table.describe = described

    def bool_equals(expected, actual: str) -> bool:
        wanted = expected if isinstance(expected, list) else [expected]
        return str(actual).lower() in [str(value).lower() for value in wanted]

    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", bool_equals)
    permitted = IAMPolicyStatement.is_action_permitted

    def applies_only_when_its_condition_holds(self, action, resource="*", principal=None,
                                              incoming_condition_values=None):
        if self._statement.get("Condition") and not self._check_conditions(incoming_condition_values):
            return PermissionResult.NEUTRAL
        return permitted(self, action, resource, principal, incoming_condition_values)

    IAMPolicyStatement.is_action_permitted = applies_only_when_its_condition_holds

    def bucket_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        return IAMPolicy(self.policy.decode()).is_action_permitted(
            action, resource, incoming_condition_values={"aws:SecureTransport": str(secure_transport).lower()})

    FakeBucket.get_permission = bucket_permission

    make_bundle = CertBundle.__init__

    def chain_as_imported(self, account_id, certificate, private_key, chain=None, *args, **kwargs):
        make_bundle(self, account_id, certificate, private_key, chain, *args, **kwargs)
        if self.type == "IMPORTED":
            self.chain = chain or certificate

    CertBundle.__init__ = chain_as_imported


def certificate(folder: Path, address: str) -> tuple[str, str]:
    """A self-signed certificate for `address` in folder (made once): (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key.exists():
        return str(cert), str(key)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"moto on {address}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    issued = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=30))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .sign(private, hashes.SHA256()))
    key.touch(mode=0o600)
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
    os.chmod(key, 0o600)
    return str(cert), str(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", required=True)
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--tls-dir", type=Path, help="serve HTTPS with a certificate kept in this folder")
    args = parser.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        raise SystemExit(f"moto serves only on loopback addresses, not {args.host}")
    install(secure_transport=bool(args.tls_dir))
    tls = []
    if args.tls_dir:
        cert, key = certificate(args.tls_dir, args.host)
        tls = ["-c", cert, "-k", key]
    server.main(["-H", args.host, "-p", str(args.port), *tls])


if __name__ == "__main__":
    main()
