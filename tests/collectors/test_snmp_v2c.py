"""The v2c codec agrees with pysnmp's BER (pyasn1) both ways, for every value type an agent sends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905

from collectors import snmp_v2c

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
oids = st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12).map(lambda a: "1.3." + ".".join(map(str, a)))
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (rfc1902.Integer32(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (rfc1902.Counter32(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (rfc1902.Gauge32(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (rfc1902.TimeTicks(v), v)),
    st.integers(0, 2**64 - 1).map(lambda v: (rfc1902.Counter64(v), v)),
    # Trailing NULs (a C terminator some agents send after sysDescr) are not part of the text.
    st.text(max_size=300).map(lambda v: (rfc1902.OctetString(v.encode()), v.rstrip("\0"))),
    st.text(max_size=30).map(lambda v: (rfc1902.OctetString(v.encode() + b"\0"), v.rstrip("\0"))),
    oids.map(lambda v: (rfc1902.ObjectIdentifier(v), v)),
    st.ip_addresses(v=4).map(lambda v: (rfc1902.IpAddress(str(v)), str(v))),
    st.sampled_from([rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView]).map(lambda v: (v, None)),
)


@given(st.integers(0, 2**31 - 1), st.lists(st.tuples(oids, values), max_size=40), st.binary(min_size=1, max_size=40))
def test_decodes_what_pysnmp_encodes(request_id: int, varbinds: list, community: bytes) -> None:
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    pdu = V2C.ResponsePDU()
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_varbinds(pdu, [(rfc1902.ObjectName(oid), value) for oid, (value, _) in varbinds])
    V2C.apiMessage.set_pdu(message, pdu)
    decoded = snmp_v2c.decode_response(encoder.encode(message), community)
    assert decoded == (request_id, 0, 0, [(oid, plain) for oid, (_, plain) in varbinds])


@given(st.integers(0, 2**31 - 1), st.integers(0, 10), st.integers(0, 200), st.lists(oids, min_size=1, max_size=20))
def test_pysnmp_decodes_what_we_encode(request_id: int, non_repeaters: int, repetitions: int, asked: list) -> None:
    raw = snmp_v2c.encode_bulk(b"public", request_id, non_repeaters, repetitions, asked)
    message, rest = decoder.decode(raw, asn1Spec=V2C.Message())
    pdu = V2C.apiMessage.get_pdu(message)
    assert rest == b"" and bytes(V2C.apiMessage.get_community(message)) == b"public"
    assert int(V2C.apiBulkPDU.get_request_id(pdu)) == request_id
    assert int(V2C.apiBulkPDU.get_non_repeaters(pdu)) == non_repeaters
    assert int(V2C.apiBulkPDU.get_max_repetitions(pdu)) == repetitions
    assert [str(oid) for oid, _ in V2C.apiPDU.get_varbinds(pdu)] == asked


@given(st.binary(max_size=200))
def test_garbage_is_a_decode_error_never_a_crash(data: bytes) -> None:
    try:
        *_header, varbinds = snmp_v2c.decode_response(data, b"public")
    except snmp_v2c.DecodeError:
        return
    assert all(isinstance(oid, str) for oid, _ in varbinds)  # anything that decodes is well-formed
