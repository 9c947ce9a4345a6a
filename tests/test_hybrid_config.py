"""Property tests for the hybrid block's validation: every rule with valid and invalid examples.

Each expectation is computed from an independent statement of the rule (Python's own address
classification, the AWS limits written out), never from the validators under test.
"""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from components.config import ConfigError, StackConfig, validate
from components.defaults import NAMESPACE
from tests.test_config_properties import check_outcome, hostile

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
REGION = "us-east-1"
VPC = ipaddress.IPv4Network("10.20.0.0/16")  # the staging profile's network.cidr
PUBLIC_IP = "52.95.110.1"
SECRET = ("hybrid",)
BASE = {
    "enabled": True,
    "customerGatewayIp": PUBLIC_IP,
    "onPremisesCidrs": ["192.168.0.0/20"],
}
PSK_CHARS = string.ascii_letters + string.digits + "._"
RESERVED_INSIDE = {
    "169.254.0.0/30",
    "169.254.1.0/30",
    "169.254.2.0/30",
    "169.254.3.0/30",
    "169.254.4.0/30",
    "169.254.5.0/30",
    "169.254.169.252/30",
}


def hybrid(secret_keys: tuple[str, ...] = (), **overrides: object) -> StackConfig:
    return validate({"environment": "staging", "hybrid": {**BASE, **overrides}}, REGION, secret_keys)


def problem(secret_keys: tuple[str, ...] = (), **overrides: object) -> str:
    with pytest.raises(ConfigError) as info:
        hybrid(secret_keys, **overrides)
    return str(info.value)


def accepted(**overrides: object) -> bool:
    try:
        hybrid(SECRET, **overrides)
    except ConfigError:
        return False
    return True


def tunnels(first: dict, second: dict | None = None) -> list[dict]:
    return [first, second if second is not None else {}]


# --- customer gateway address ------------------------------------------------------------------

DOCUMENTATION = [ipaddress.IPv4Network(c) for c in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
CARRIER_NAT = ipaddress.IPv4Network("100.64.0.0/10")
IETF = ipaddress.IPv4Network("192.0.0.0/24")


def reachable_from_the_internet(address: ipaddress.IPv4Address) -> bool:
    """The rule, stated with Python's classification: public unicast, or a documentation example."""
    if any(address in net for net in DOCUMENTATION):
        return True  # accepted with a warning (see test_hybrid.py)
    special = (
        address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address in CARRIER_NAT
        # The few anycast service addresses in 192.0.0.0/24 are never a customer's device.
        or address in IETF
    )
    return not special


edge_addresses = st.sampled_from(
    [
        "0.0.0.0", "9.255.255.255",  # noqa: S104 "10.0.0.1", "11.0.0.0", "100.63.255.255", "100.64.0.0",
        "100.127.255.255", "126.255.255.255", "127.0.0.1", "169.254.1.1", "172.15.255.255",
        "172.16.0.0", "172.31.255.255", "172.32.0.0", "192.0.0.9", "192.0.2.1", "192.168.1.1",
        "198.17.255.255", "198.18.0.1", "198.20.0.0", "203.0.113.12", "223.255.255.255",
        "224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255",
    ]
).map(ipaddress.IPv4Address)  # fmt: skip


@SETTINGS
@given(address=st.one_of(st.ip_addresses(v=4), edge_addresses))
def test_customer_gateway_ip_is_public_unicast(address: ipaddress.IPv4Address) -> None:
    assert accepted(customerGatewayIp=str(address)) == reachable_from_the_internet(address)
    if not reachable_from_the_internet(address):
        assert f"{NAMESPACE}:hybrid.customerGatewayIp: " in problem(SECRET, customerGatewayIp=str(address))


@pytest.mark.parametrize("text", ["52.95.110.01", " 52.95.110.1", "52.95.110.1/32", "52.95.110", "::1", "example.com"])
def test_customer_gateway_ip_must_be_a_plain_canonical_address(text: str) -> None:
    assert f"{NAMESPACE}:hybrid.customerGatewayIp: " in problem(customerGatewayIp=text)


def test_customer_gateway_ip_required_only_when_enabled() -> None:
    without = {k: v for k, v in BASE.items() if k != "customerGatewayIp"}
    with pytest.raises(ConfigError, match=rf"{NAMESPACE}:hybrid\.customerGatewayIp: required"):
        validate({"environment": "staging", "hybrid": without}, REGION)
    assert validate({"environment": "staging", "hybrid": {**without, "enabled": False}}, REGION)


# --- ASNs ------------------------------------------------------------------------------------

asns = st.one_of(
    st.integers(min_value=-1, max_value=2**32 + 1),
    st.sampled_from([0, 1, 7224, 9059, 64511, 64512, 65534, 65535, 2**31 - 1, 2**31, 4199999999, 4200000000]),
    st.sampled_from([4294967294, 4294967295]),
)


@SETTINGS
@given(asn=asns)
def test_amazon_side_asn_is_private(asn: int) -> None:
    private = 64512 <= asn <= 65534 or 4_200_000_000 <= asn <= 4_294_967_294
    ok = accepted(amazonSideAsn=asn, customerGatewayAsn=65000 if asn != 65000 else 65001)
    assert ok == private


@SETTINGS
@given(asn=asns)
def test_customer_gateway_asn_range(asn: int) -> None:
    allowed = 1 <= asn <= 2_147_483_647 and asn not in (7224, 9059)
    assert accepted(customerGatewayAsn=asn, amazonSideAsn=64512 if asn != 64512 else 64513) == allowed


@SETTINGS
@given(asn=st.integers(min_value=64512, max_value=65534))
def test_the_two_sides_need_different_asns(asn: int) -> None:
    message = problem(customerGatewayAsn=asn, amazonSideAsn=asn)
    assert f"{NAMESPACE}:hybrid.customerGatewayAsn: " in message and "different" in message


@pytest.mark.parametrize("value", [True, "65000", 65000.0])
def test_asns_are_not_coerced(value: object) -> None:
    assert f"{NAMESPACE}:hybrid.customerGatewayAsn: " in problem(customerGatewayAsn=value)


# --- tunnel inside CIDRs ---------------------------------------------------------------------


@st.composite
def networks(draw: st.DrawFn) -> ipaddress.IPv4Network:
    """Mostly /28-/32 blocks in and around 169.254.0.0/16, sometimes anywhere."""
    near = draw(st.booleans())
    low, high = (int(ipaddress.IPv4Address("169.253.255.0")), int(ipaddress.IPv4Address("169.255.0.255")))
    address = draw(st.integers(min_value=low, max_value=high) if near else st.integers(0, 2**32 - 1))
    prefix = draw(st.integers(min_value=28, max_value=32) if near else st.integers(0, 32))
    return ipaddress.IPv4Network((address, prefix), strict=False)


@SETTINGS
@given(cidr=st.one_of(networks(), st.sampled_from(sorted(RESERVED_INSIDE)).map(ipaddress.IPv4Network)))
@example(cidr=ipaddress.IPv4Network("169.254.6.0/30"))
@example(cidr=ipaddress.IPv4Network("169.254.169.248/30"))
def test_inside_cidr_is_an_unreserved_link_local_slash_30(cidr: ipaddress.IPv4Network) -> None:
    valid = (
        cidr.prefixlen == 30
        and cidr.subnet_of(ipaddress.IPv4Network("169.254.0.0/16"))
        and str(cidr) not in RESERVED_INSIDE
    )
    for position in (0, 1):
        chosen = [{}, {}]
        chosen[position] = {"insideCidr": str(cidr)}
        assert accepted(tunnels=chosen) == valid
        if not valid:
            assert f"{NAMESPACE}:hybrid.tunnels[{position}].insideCidr: " in problem(tunnels=chosen)


@SETTINGS
@given(third_octet=st.integers(min_value=6, max_value=168), slot=st.integers(min_value=0, max_value=63))
def test_inside_cidrs_must_differ(third_octet: int, slot: int) -> None:
    cidr = f"169.254.{third_octet}.{slot * 4}/30"
    assert accepted(tunnels=tunnels({"insideCidr": cidr}))
    message = problem(tunnels=tunnels({"insideCidr": cidr}, {"insideCidr": cidr}))
    assert f"{NAMESPACE}:hybrid.tunnels: " in message and cidr in message


@pytest.mark.parametrize("count", [1, 3])
def test_two_tunnels_or_none(count: int) -> None:
    assert f"{NAMESPACE}:hybrid.tunnels: " in problem(tunnels=[{}] * count)
    assert accepted(tunnels=[]) and accepted(tunnels=[{}, {}])


# --- pre-shared keys -------------------------------------------------------------------------

psk_like = st.one_of(
    st.text(alphabet=PSK_CHARS, min_size=0, max_size=70),
    st.text(alphabet=PSK_CHARS + "-!/ \n\u00e9\u0661", min_size=6, max_size=66),
    st.builds(lambda rest: "0" + rest, st.text(alphabet=PSK_CHARS, min_size=7, max_size=63)),
)


def _echoes(key: str, message: str, message_for_another_key: str) -> bool:
    """Whether `message` repeats `key`. Hypothesis also draws the code's own literals, so a key
    such as "presharedKey" can be part of the fixed text; that text is in the other message too."""
    return len(key) >= 4 and key in message and key not in message_for_another_key


@SETTINGS
@given(key=psk_like)
@example(key="abcdefg")  # 7
@example(key="a" * 64)
@example(key="a" * 65)
@example(key="0abcdefgh")
@example(key="abcdefgh\n")
def test_preshared_key_format_and_never_echoed(key: str) -> None:
    valid = 8 <= len(key) <= 64 and all(c in PSK_CHARS for c in key) and not key.startswith("0")
    assert accepted(tunnels=tunnels({"presharedKey": key})) == valid
    if not valid:
        message = problem(SECRET, tunnels=tunnels({"presharedKey": key}))
        assert f"{NAMESPACE}:hybrid.tunnels[0].presharedKey: " in message
        assert not _echoes(key, message, problem(SECRET, tunnels=tunnels({"presharedKey": "0"})))


@SETTINGS
@given(key=st.text(alphabet=PSK_CHARS, min_size=8, max_size=64).filter(lambda k: not k.startswith("0")))
def test_preshared_key_only_from_secret_config(key: str) -> None:
    assert accepted(tunnels=tunnels({}, {"presharedKey": key}))
    for secret_keys in ((), ("network",)):
        message = problem(secret_keys, tunnels=tunnels({}, {"presharedKey": key}))
        assert f"{NAMESPACE}:hybrid.tunnels[1].presharedKey: must come from secret config" in message
        # Not `key not in message`: Hypothesis also draws the code's own literals, and a key
        # such as "presharedKey" is legitimately part of the message. Redaction means the
        # message does not depend on the key at all.
        assert message == problem(secret_keys, tunnels=tunnels({}, {"presharedKey": "Redacted.1"}))


@SETTINGS
@given(value=hostile, key=st.text(alphabet=string.ascii_letters, min_size=12, max_size=20))
def test_a_secret_is_not_echoed_whatever_surrounds_it(value: object, key: str) -> None:
    # A key next to a broken value, or a broken tunnel holding a key: the message never has it.
    assume(key not in repr(value))
    for shape in ([{"presharedKey": key, "insideCidr": value}, {}], [{"presharedKey": key}, value]):
        try:
            hybrid((), tunnels=shape)
        except ConfigError as exc:
            stand_in = [
                {**t, "presharedKey": "Sentinel.1"} if isinstance(t, dict) and "presharedKey" in t else t for t in shape
            ]
            with pytest.raises(ConfigError) as other:
                hybrid((), tunnels=stand_in)
            assert not _echoes(key, str(exc), str(other.value))


# --- on-premises CIDRs -----------------------------------------------------------------------

SPECIAL = [
    ipaddress.IPv4Network(c) for c in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
]


@st.composite
def cidr_lists(draw: st.DrawFn) -> list[ipaddress.IPv4Network]:
    def one() -> ipaddress.IPv4Network:
        base = draw(st.sampled_from([int(VPC.network_address), int(ipaddress.IPv4Address("192.168.0.0")), None]))
        address = draw(st.integers(0, 2**32 - 1)) if base is None else base + draw(st.integers(0, 2**17))
        prefix = draw(st.integers(min_value=8, max_value=32))
        return ipaddress.IPv4Network((address % 2**32, prefix), strict=False)

    return [one() for _ in range(draw(st.integers(min_value=1, max_value=4)))]


@SETTINGS
@given(cidrs=cidr_lists())
@example(cidrs=[ipaddress.IPv4Network("10.0.0.0/8")])
@example(cidrs=[ipaddress.IPv4Network("192.168.0.0/20"), ipaddress.IPv4Network("192.168.8.0/24")])
@example(cidrs=[ipaddress.IPv4Network("192.168.0.0/24"), ipaddress.IPv4Network("192.168.0.0/24")])
def test_on_premises_cidrs_stay_clear_of_the_vpc_and_each_other(cidrs: list[ipaddress.IPv4Network]) -> None:
    clash_vpc = any(c.overlaps(VPC) for c in cidrs)
    clash_each_other = any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])
    unroutable = any(c.overlaps(s) for c in cidrs for s in SPECIAL)
    texts = [str(c) for c in cidrs]
    assert accepted(onPremisesCidrs=texts) == (not (clash_vpc or clash_each_other or unroutable))
    if clash_vpc or clash_each_other or unroutable:
        assert f"{NAMESPACE}:hybrid.onPremisesCidrs" in problem(onPremisesCidrs=texts)


def test_overlap_with_the_vpc_names_both() -> None:
    message = problem(onPremisesCidrs=["10.20.128.0/24"])
    assert f"{NAMESPACE}:hybrid.onPremisesCidrs: 10.20.128.0/24 overlaps" in message and str(VPC) in message


def test_on_premises_cidrs_required_when_enabled_and_bounded() -> None:
    assert f"{NAMESPACE}:hybrid.onPremisesCidrs: " in problem(onPremisesCidrs=[])
    many = [f"192.168.{i}.0/24" for i in range(51)]
    assert f"{NAMESPACE}:hybrid.onPremisesCidrs: at most 50" in problem(onPremisesCidrs=many)
    assert accepted(onPremisesCidrs=many[:50])


# --- the block as a whole --------------------------------------------------------------------

HYBRID_KEYS = [
    "enabled", "customerGatewayIp", "customerGatewayAsn", "amazonSideAsn", "routing",
    "onPremisesCidrs", "dpdTimeoutAction", "tunnelLogging", "tunnels",
]  # fmt: skip


@SETTINGS
@given(environment=st.sampled_from(["dev", "staging", "prod"]), key=st.sampled_from(HYBRID_KEYS), value=hostile)
def test_hostile_value_inside_hybrid(environment: str, key: str, value: object) -> None:
    cfg = check_outcome({"environment": environment, "hybrid": {**BASE, key: value}}, REGION)
    if cfg is not None and cfg.hybrid.enabled:
        assert cfg.hybrid.customer_gateway_ip and cfg.hybrid.on_premises_cidrs
        assert cfg.needs_network


@pytest.mark.parametrize(("key", "value"), [("routing", "dynamic"), ("dpdTimeoutAction", "hold")])
def test_enumerations(key: str, value: str) -> None:
    assert f"{NAMESPACE}:hybrid.{key}: " in problem(**{key: value})


def test_enabling_hybrid_builds_the_network() -> None:
    cfg = validate({"environment": "dev", "hybrid": BASE}, REGION)
    assert not cfg.network.enabled and cfg.needs_network
