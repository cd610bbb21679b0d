"""Crafting the bytes of Windows remote services for test traffic: SMB2 and SMB1 negotiation,
session setups carrying NTLMSSP in SPNEGO, tree connects (MS-SMB2, MS-CIFS, MS-NLMP, RFC 4178),
and RDP connection requests, confirms and the MCS Connect Initial with its client core data
(MS-RDPBCGR, T.125, T.124). Each builder writes what its specification lays out, field by field.

Nothing here sends anything: the bytes go into TCP conversations written to pcap files.
"""

from __future__ import annotations

import struct
import uuid

# SMB ----------------------------------------------------------------------------------------

NEGOTIATE, SESSION_SETUP, TREE_CONNECT = 0, 1, 3
MORE_PROCESSING, LOGON_FAILURE = 0xC0000016, 0xC000006D
NTLM_OID = b"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"  # 1.3.6.1.4.1.311.2.2.10
SPNEGO_OID = b"\x2b\x06\x01\x05\x05\x02"  # 1.3.6.1.5.5.2
UNICODE, VERSION_FLAG = 0x00000001, 0x02000000


def netbios(frame: bytes) -> bytes:
    """One frame of the NetBIOS session service as SMB over TCP uses it (type 0, length)."""
    return b"\x00" + len(frame).to_bytes(3, "big") + frame


def smb2_header(
    command: int, *, status: int = 0, response: bool = False, message_id: int = 0,
    session_id: int = 0, next_command: int = 0,
) -> bytes:  # fmt: skip
    return (b"\xfeSMB" + struct.pack("<HHIHHIIQ", 64, 1, status, command, 1, int(response),
            next_command, message_id) + struct.pack("<II", 0, 0) + struct.pack("<Q", session_id)
            + bytes(16))  # fmt: skip


def negotiate_request(
    dialects: list[int], *, client_guid: uuid.UUID, netname: str | None = None,
    ciphers: tuple[int, ...] = (),
) -> bytes:  # fmt: skip
    items: list[tuple[int, bytes]] = []
    if 0x0311 in dialects:
        items.append((1, struct.pack("<HH", 1, 32) + b"\x00" * 2 + bytes(32)))  # preauth
        if ciphers:
            listed = b"".join(struct.pack("<H", c) for c in ciphers)
            items.append((2, struct.pack("<H", len(ciphers)) + listed))
        if netname:
            items.append((5, netname.encode("utf-16-le")))
    contexts = _contexts(items)
    body_len = 36 + 2 * len(dialects)
    offset = 64 + body_len + (-(64 + body_len) % 8) if contexts else 0
    body = (struct.pack("<HHHHI", 36, len(dialects), 0x01, 0, 0x7F) + client_guid.bytes_le
            + struct.pack("<IHH", offset, len(items), 0)
            + b"".join(struct.pack("<H", d) for d in dialects))  # fmt: skip
    if contexts:
        body += bytes(-(64 + len(body)) % 8) + contexts
    return smb2_header(NEGOTIATE) + body


def _contexts(items: list[tuple[int, bytes]]) -> bytes:
    out = b""
    for kind, data in items:
        out += bytes(-len(out) % 8) + struct.pack("<HHI", kind, len(data), 0) + data
    return out


def negotiate_response(
    dialect: int, *, server_guid: uuid.UUID, signing_required: bool, cipher: int | None = None,
    blob: bytes = b"",
) -> bytes:  # fmt: skip
    contexts = _contexts([(2, struct.pack("<HH", 1, cipher))]) if cipher else b""
    buffer_at = 64 + 64
    context_at = buffer_at + len(blob) + (-(buffer_at + len(blob)) % 8) if contexts else 0
    body = (struct.pack("<HHHH", 65, 0x03 if signing_required else 0x01, dialect,
                        1 if contexts else 0) + server_guid.bytes_le
            + struct.pack("<IIII", 0x2F, 8 << 20, 8 << 20, 8 << 20) + bytes(16)
            + struct.pack("<HHI", buffer_at, len(blob), context_at) + blob)  # fmt: skip
    if contexts:
        body += bytes(-(64 + len(body)) % 8) + contexts
    return smb2_header(NEGOTIATE, response=True) + body


def session_setup_request(blob: bytes, *, message_id: int = 1, session_id: int = 0) -> bytes:
    body = struct.pack("<HBBIIHHQ", 25, 0, 0x01, 0x01, 0, 64 + 24, len(blob), 0) + blob
    return smb2_header(SESSION_SETUP, message_id=message_id, session_id=session_id) + body


def session_setup_response(
    status: int, blob: bytes = b"", *, flags: int = 0, session_id: int = 0x4000_0000_0011
) -> bytes:  # fmt: skip
    head = smb2_header(SESSION_SETUP, status=status, response=True, session_id=session_id)
    if status not in (0, MORE_PROCESSING):
        return head + struct.pack("<HBBI", 9, 0, 0, 0) + b"\x00"  # an error response
    return head + struct.pack("<HHHH", 9, flags, 64 + 8, len(blob)) + blob


def tree_connect_request(path: str) -> bytes:
    raw = path.encode("utf-16-le")
    return smb2_header(TREE_CONNECT) + struct.pack("<HHHH", 9, 0, 64 + 8, len(raw)) + raw


def tree_connect_response(status: int = 0, share_type: int = 1) -> bytes:
    body = struct.pack("<HBBIII", 16, share_type, 0, 0, 0, 0x1F01FF)
    return smb2_header(TREE_CONNECT, status=status, response=True) + body


def smb1_negotiate_request(dialects: list[str]) -> bytes:
    data = b"".join(b"\x02" + d.encode("latin-1") + b"\x00" for d in dialects)
    header = b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", 0x72, 0, 0x18, 0xC853, 0, bytes(8), 0, 0,
                                      0xFEFF, 0, 0)  # fmt: skip
    return header + b"\x00" + struct.pack("<H", len(data)) + data


def smb1_negotiate_response(index: int) -> bytes:
    header = b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", 0x72, 0, 0x98, 0xC853, 0, bytes(8), 0, 0,
                                      0xFEFF, 0, 0)  # fmt: skip
    words = struct.pack("<HBHHIIIIQhB", index, 0x03, 50, 1, 16644, 65536, 0, 0xE3FD, 0, 0, 0)
    return header + bytes([len(words) // 2]) + words + struct.pack("<H", 0)


def smb1_session_setup(blob: bytes, *, status: int | None = None) -> bytes:
    """An SMB1 SESSION_SETUP_ANDX request with extended security (MS-CIFS 2.2.4.53, MS-SMB
    2.2.4.6), or its response when ``status`` is given."""
    response = status is not None
    flags = 0x98 if response else 0x18
    header = b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", 0x73, status or 0, flags, 0xC807, 0,
                                      bytes(8), 0, 0, 0xFEFF, 0x0800, 2)  # fmt: skip
    if response:
        words = struct.pack("<BBHHH", 0xFF, 0, 0, 0, len(blob))
    else:
        words = struct.pack("<BBHHHHIHII", 0xFF, 0, 0, 16644, 50, 0, 0, len(blob), 0, 0x800000D4)
    data = blob + "Windows 7\x00".encode("utf-16-le")
    return header + bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 0x80 else b"\x82" + n.to_bytes(2, "big")
    return bytes([tag]) + length + content


def spnego_init(token: bytes) -> bytes:
    """A NegTokenInit offering NTLM with its first token (RFC 4178, 4.2.1)."""
    mechs = _der(0xA0, _der(0x30, _der(0x06, NTLM_OID)))
    inner = _der(0xA0, _der(0x30, mechs + _der(0xA2, _der(0x04, token))))
    return _der(0x60, _der(0x06, SPNEGO_OID) + inner)


def spnego_response(token: bytes) -> bytes:
    """A NegTokenResp (accept-incomplete) carrying a token."""
    state = _der(0xA0, _der(0x0A, b"\x01"))
    return _der(0xA1, _der(0x30, state + _der(0xA1, _der(0x06, NTLM_OID))
                           + _der(0xA2, _der(0x04, token))))  # fmt: skip


def kerberos_ap_req(realm: str, service: list[str]) -> bytes:
    """A GSS-API Kerberos AP-REQ token (RFC 4121 4.1, RFC 4120 5.5.1) with a ticket for
    ``service`` in ``realm``; its encrypted parts are stand-in bytes."""
    names = b"".join(_der(0x1B, part.encode()) for part in service)
    principal = _der(0x30, _der(0xA0, _der(0x02, b"\x02")) + _der(0xA1, _der(0x30, names)))
    enc_part = _der(0x30, _der(0xA0, _der(0x02, b"\x12")) + _der(0xA2, _der(0x04, bytes(64))))
    ticket = _der(0x61, _der(0x30, _der(0xA0, _der(0x02, b"\x05"))
                              + _der(0xA1, _der(0x1B, realm.encode())) + _der(0xA2, principal)
                              + _der(0xA3, enc_part)))  # fmt: skip
    header = _der(0xA0, _der(0x02, b"\x05")) + _der(0xA1, _der(0x02, b"\x0e"))  # pvno, AP-REQ
    options = _der(0xA2, _der(0x03, b"\x00\x20\x00\x00\x00"))  # mutual-required
    request = _der(0x6E, _der(0x30, header + options + _der(0xA3, ticket) + _der(0xA4, enc_part)))
    krb5 = b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"
    return _der(0x60, krb5 + b"\x01\x00" + request)


def spnego_kerberos(token: bytes) -> bytes:
    """A NegTokenInit offering Kerberos (Microsoft's OID first, as Windows sends it)."""
    ms_krb5 = b"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02"
    mechs = _der(0xA0, _der(0x30, _der(0x06, ms_krb5) + _der(0x06, NTLM_OID)))
    inner = _der(0xA0, _der(0x30, mechs + _der(0xA2, _der(0x04, token))))
    return _der(0x60, _der(0x06, SPNEGO_OID) + inner)


def ntlm_negotiate() -> bytes:
    return b"NTLMSSP\x00" + struct.pack("<II", 1, 0xE2088297) + bytes(16) + _version(10, 0, 19041)


def _version(major: int, minor: int, build: int) -> bytes:
    return struct.pack("<BBH3sB", major, minor, build, bytes(3), 15)


def ntlm_challenge(names: dict[int, str], version: tuple[int, int, int] = (10, 0, 20348)) -> bytes:
    """A CHALLENGE message whose target info holds ``{AvId: name}`` (MS-NLMP 2.2.1.2)."""
    info = b"".join(struct.pack("<HH", k, len(v.encode("utf-16-le"))) + v.encode("utf-16-le")
                    for k, v in names.items()) + struct.pack("<HH", 0, 0)  # fmt: skip
    target = names.get(2, "").encode("utf-16-le")
    head = 56
    return (b"NTLMSSP\x00" + struct.pack("<I", 2)
            + struct.pack("<HHI", len(target), len(target), head)
            + struct.pack("<I", 0xE28A8215 | UNICODE | VERSION_FLAG) + b"\x11" * 8 + bytes(8)
            + struct.pack("<HHI", len(info), len(info), head + len(target))
            + _version(*version) + target + info)  # fmt: skip


def ntlm_authenticate(
    user: str, domain: str, workstation: str, *, ntlm_v1: bool = False,
    unicode: bool = True,
) -> bytes:  # fmt: skip
    """An AUTHENTICATE message (MS-NLMP 2.2.1.3) with stand-in responses: a 24-byte NTLMv1
    response, or an NTLMv2 one laid out as 2.2.2.8 (proof, then the client's blob)."""
    codec = "utf-16-le" if unicode else "latin-1"

    def encode(text: str) -> bytes:
        return text.encode(codec)

    blob = struct.pack("<BB6sQ8sI", 1, 1, bytes(6), 0x01DB5A1E2C3D4E5F, b"\x44" * 8, 0)
    nt_response = b"\x22" * 24 if ntlm_v1 else b"\x22" * 16 + blob + bytes(4) + bytes(4)
    parts = [b"\x00" * 24, nt_response, encode(domain), encode(user),
             encode(workstation), b"\x33" * 16]  # fmt: skip
    at, fields, payload = 88, b"", b""
    for part in parts:
        fields += struct.pack("<HHI", len(part), len(part), at + len(payload))
        payload += part
    flags = 0xE2888215 & ~UNICODE | (UNICODE if unicode else 0) | VERSION_FLAG
    return (b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", flags)
            + _version(10, 0, 19045) + bytes(16) + payload)  # fmt: skip


# RDP ----------------------------------------------------------------------------------------

PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX = 0, 1, 2, 8


def tpkt(payload: bytes) -> bytes:
    return b"\x03\x00" + struct.pack(">H", len(payload) + 4) + payload


def connection_request(
    *, cookie: str | None = None, routing_token: str | None = None,
    protocols: int | None = PROTOCOL_SSL | PROTOCOL_HYBRID, flags: int = 0,
) -> bytes:  # fmt: skip
    """A TPKT with an X.224 Connection Request (MS-RDPBCGR 2.2.1.1)."""
    data = b""
    if cookie is not None:
        data += b"Cookie: mstshash=" + cookie.encode("latin-1") + b"\r\n"
    elif routing_token is not None:
        data += b"Cookie: " + routing_token.encode("latin-1") + b"\r\n"
    if protocols is not None:
        data += struct.pack("<BBHI", 1, flags, 8, protocols)
    return tpkt(bytes([6 + len(data), 0xE0]) + struct.pack(">HHB", 0, 0x1234, 0) + data)


def connection_confirm(
    *, selected: int | None = PROTOCOL_HYBRID, failure: int | None = None
) -> bytes:
    data = b""
    if failure is not None:
        data = struct.pack("<BBHI", 3, 0, 8, failure)
    elif selected is not None:
        data = struct.pack("<BBHI", 2, 0x1F, 8, selected)
    return tpkt(bytes([6 + len(data), 0xD0]) + struct.pack(">HHB", 0x1234, 0x5678, 0) + data)


def _ber_int(value: int) -> bytes:
    return _ber(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big"))


def _ber(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = bytes([n]) if n < 0x80 else b"\x82" + n.to_bytes(2, "big")
    return bytes([tag]) + length + content


def _domain_parameters(channels: int, users: int, tokens: int, pdu: int) -> bytes:
    return _ber(0x30, b"".join(_ber_int(v) for v in (channels, users, tokens, 1, 0, 1, pdu, 2)))


def client_core_data(name: str, *, build: int, layout: int, version: int = 0x0008000C) -> bytes:
    """A TS_UD_CS_CORE block (MS-RDPBCGR 2.2.1.3.2), optional fields included."""
    raw_name = name.encode("utf-16-le")[:30].ljust(32, b"\x00")
    body = (struct.pack("<IHHHHII", version, 1920, 1080, 0xCA01, 0xAA03, layout, build) + raw_name
            + struct.pack("<III", 4, 0, 12) + bytes(64)
            + struct.pack("<HHIHHH", 0xCA01, 1, 0, 24, 0x0F, 0x0001) + bytes(64))  # fmt: skip
    return struct.pack("<HH", 0xC001, len(body) + 4) + body


def mcs_connect_initial(name: str, *, build: int = 22621, layout: int = 0x0000042A) -> bytes:
    """A TPKT with X.224 Data and an MCS Connect-Initial (T.125) whose user data is a GCC
    Conference Create Request (T.124) with the client's core and security data."""
    security = struct.pack("<HHII", 0xC002, 12, 0x1B, 0)
    blocks = client_core_data(name, build=build, layout=layout) + security
    ccr = (b"\x00\x08\x00\x10\x00\x01\xc0\x00Duca" + struct.pack(">H", 0x8000 | len(blocks))
           + blocks)  # fmt: skip
    gcc = b"\x00\x05\x00\x14\x7c\x00\x01" + struct.pack(">H", 0x8000 | len(ccr)) + ccr
    body = (_ber(0x04, b"\x01") + _ber(0x04, b"\x01") + _ber(0x01, b"\xff")
            + _domain_parameters(34, 2, 0, 65535) + _domain_parameters(1, 1, 1, 1056)
            + _domain_parameters(65535, 64535, 65535, 65535) + _ber(0x04, gcc))  # fmt: skip
    mcs = b"\x7f\x65" + b"\x82" + len(body).to_bytes(2, "big") + body
    return tpkt(b"\x02\xf0\x80" + mcs)
