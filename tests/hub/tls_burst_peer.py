#!/usr/bin/env python3
"""A TLS server that sends a burst of small records in one TCP write, as a hub sends PUBACKs.

    tls_burst_peer.py CERT KEY COUNT [close | garbage]

Prints `listening PORT`, takes one connection on 127.0.0.1, completes the handshake, then writes
COUNT records of one MQTT PUBACK each (packet ids 1..COUNT) through a memory BIO and sends them
all with one sendall; with `close`, TLS's close_notify follows in the same write, with `garbage`
a record that does not decrypt. Prints `sent COUNT` and waits for the client to close.
"""
import socket
import ssl
import sys

cert, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
after = sys.argv[4] if len(sys.argv) > 4 else ""
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.num_tickets = 0  # no session tickets: the burst is the only thing after the handshake

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
listener.settimeout(30)
print("listening", listener.getsockname()[1], flush=True)
conn, _ = listener.accept()
conn.settimeout(30)

incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = context.wrap_bio(incoming, outgoing, server_side=True)
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        if outgoing.pending:
            conn.sendall(outgoing.read())
        data = conn.recv(65536)
        if not data:
            sys.exit("the client closed during the handshake")
        incoming.write(data)
if outgoing.pending:
    conn.sendall(outgoing.read())

for packet_id in range(1, count + 1):
    tls.write(bytes([0x40, 0x02, packet_id >> 8, packet_id & 0xFF]))  # a record each
if after == "close":
    try:
        tls.unwrap()  # writes close_notify, then wants the client's, which we do not wait for
    except ssl.SSLWantReadError:
        pass
burst = outgoing.read()
if after == "garbage":
    burst += bytes([0x17, 0x03, 0x03, 0x00, 0x20]) + b"x" * 32  # application data, bad tag
conn.sendall(burst)
print("sent", count, flush=True)
conn.recv(1)  # until the client closes
