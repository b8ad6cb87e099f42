#!/usr/bin/python3
"""A simulated boiler controller on Modbus TCP for the demo (pymodbus 3.0, Debian's package).

usage: modbus_boiler.py PORT

Unit 1. Holding registers: 0 supply temperature (int16, 0.1 °C), 1 pressure (uint16, 0.01 bar),
2-3 burner starts (uint32, ABCD), 10 setpoint (int16, 0.1 °C, writable). Coil 0: burner on.
The temperature drifts toward the setpoint while the burner runs, so the readings move.
Prints READY once it accepts connections."""
import logging
import random
import socket
import sys
import threading
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer
from pymodbus.transaction import ModbusSocketFramer


def main():
    port = int(sys.argv[1])
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    holding = ModbusSequentialDataBlock(0, [0] * 32)
    coils = ModbusSequentialDataBlock(0, [0] * 8)
    unit = ModbusSlaveContext(hr=holding, co=coils, zero_mode=True)
    context = ModbusServerContext(slaves={1: unit}, single=False)
    holding.setValues(0, [650, 150, 0, 0])
    holding.setValues(10, [700])

    def simulate():
        starts = 0
        while True:
            temp, pressure = holding.getValues(0, 2)
            setpoint = holding.getValues(10, 1)[0]
            burner = temp < setpoint - 20 or (coils.getValues(0, 1)[0] and temp < setpoint)
            if burner and not coils.getValues(0, 1)[0]:
                starts += 1
            coils.setValues(0, [1 if burner else 0])
            temp += (8 if burner else -4) + random.randint(-2, 2)
            pressure = max(100, min(300, pressure + random.randint(-3, 3)))
            holding.setValues(0, [max(0, temp), pressure, starts >> 16, starts & 0xFFFF])
            time.sleep(1)

    def announce():
        for _ in range(500):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    print("READY", flush=True)
                    return
            except OSError:
                time.sleep(0.02)

    threading.Thread(target=simulate, daemon=True).start()
    threading.Thread(target=announce, daemon=True).start()
    StartTcpServer(context=context, address=("127.0.0.1", port), framer=ModbusSocketFramer,
                   allow_reuse_address=True)


if __name__ == "__main__":
    main()
