#!/usr/bin/python3
"""A Modbus RTU server for the fault suite, on one end of a socat PTY pair, whose units misbehave
on purpose. Each unit has one behaviour:

  good        answers read-holding/input requests; register 0 holds the answer's sequence number
              (0, 1, 2, … per unit), the others 100 + address
  silent      never answers (a dead slave on the line)
  bad-crc     answers like `good` but with the CRC's bytes flipped
  long        answers with two bytes more than the request asks for (a byte count that does not
              match, with a valid CRC over what it sent)
  garbage     answers with random bytes

usage: rtu_responder.py DEVICE STATE_FILE UNIT=BEHAVIOUR ...
Prints READY once the device is open. After each answer of a good unit it rewrites STATE_FILE
(JSON: unit -> answers sent) so the test knows how many readings each good unit handed over.
Requests are taken from the byte stream by their fixed length (8 bytes for functions 1-6) and
checked by CRC; on a bad CRC the stream is resynchronised one byte at a time.
"""
import json
import os
import random
import sys
import termios
import tty


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes([crc & 0xFF, crc >> 8])


def main():
    device, state_file = sys.argv[1], sys.argv[2]
    behaviours = {}
    for arg in sys.argv[3:]:
        unit, behaviour = arg.split("=")
        behaviours[int(unit)] = behaviour
    answers = {u: 0 for u, b in behaviours.items() if b == "good"}
    rng = random.Random(int(os.environ.get("FAULTS_SEED", "1")))
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    print("READY", flush=True)

    def save():
        tmp = state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(answers, f)
        os.replace(tmp, state_file)

    buf = b""
    while True:
        chunk = os.read(fd, 256)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 8:
            frame = buf[:8]
            if crc16(frame[:6]) != frame[6:8]:
                buf = buf[1:]
                continue
            buf = buf[8:]
            unit, function = frame[0], frame[1]
            address = int.from_bytes(frame[2:4], "big")
            count = int.from_bytes(frame[4:6], "big")
            behaviour = behaviours.get(unit, "silent")
            if behaviour == "silent" or function not in (3, 4) or not 1 <= count <= 125:
                continue
            if behaviour == "garbage":
                os.write(fd, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))))
                continue
            regs = []
            for a in range(address, address + count):
                regs.append(answers.get(unit, 0) if a == 0 else 100 + a)
            data = b"".join((r & 0xFFFF).to_bytes(2, "big") for r in regs)
            if behaviour == "long":
                data += b"\x00\x00"
            pdu = bytes([unit, function, len(data)]) + data
            crc = crc16(pdu)
            if behaviour == "bad-crc":
                crc = bytes([crc[0] ^ 0xFF, crc[1] ^ 0xFF])
            os.write(fd, pdu + crc)
            if behaviour == "good":
                answers[unit] += 1
                save()


if __name__ == "__main__":
    main()
