from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fragments.deploy.plugins.filter.plain_http_to_public import plain_http_to_public


@pytest.mark.parametrize("url", ["http://52.0.0.10", "http://54.210.3.9:8080/v1", "http://app.example.com",
                                 "HTTP://[2001:4860::8888]/", "http://fragments.example.org."])
def test_plain_http_to_the_internet_is_named(url):
    assert plain_http_to_public(["https://app.example.com", url, ""]) == [url]


@pytest.mark.parametrize("url", ["https://203.0.113.7", "http://127.0.0.1:18080", "http://10.0.3.7", "http://[::1]:80",
                                 "http://172.20.0.4", "http://192.168.1.2", "http://169.254.169.254",
                                 "http://localhost:8080", "http://registry.lab", "http://ip-10-0-0-7.ec2.internal",
                                 "http://[fd00::7]/"])
def test_encrypted_or_private_addresses_are_not(url):
    assert plain_http_to_public([url]) == []


def test_a_string_is_not_a_list():
    with pytest.raises(AnsibleFilterError, match="give a list of URLs, not str"):
        plain_http_to_public("http://52.0.0.10")
