// aedes buffers a whole MQTT packet before any hook sees it and has no size limit, so one client
// could make the emulator hold up to 256 MB. This wrapper reads each packet's fixed header as the
// bytes arrive and cuts the connection as soon as a packet announces more than the limit.
import { Duplex } from 'node:stream';

/** Tracks MQTT packet boundaries in a byte stream; `feed` returns false on an oversize packet. */
class PacketHeaderScanner {
  #maxRemainingLength;
  #state = 'type';
  #length = 0;
  #multiplier = 1;
  #bodyLeft = 0;

  constructor(maxRemainingLength) {
    this.#maxRemainingLength = maxRemainingLength;
  }

  feed(chunk) {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'body') {
        const skip = Math.min(this.#bodyLeft, chunk.length - i);
        this.#bodyLeft -= skip;
        i += skip;
        if (this.#bodyLeft === 0) this.#state = 'type';
      } else if (this.#state === 'type') {
        this.#state = 'length';
        this.#length = 0;
        this.#multiplier = 1;
        i += 1;
      } else {
        const byte = chunk[i++];
        this.#length += (byte & 0x7f) * this.#multiplier;
        this.#multiplier *= 128;
        if (this.#length > this.#maxRemainingLength) return false;
        if ((byte & 0x80) === 0) {
          this.#bodyLeft = this.#length;
          this.#state = this.#length === 0 ? 'type' : 'body';
        }
      }
    }
    return true;
  }
}

/**
 * Returns a Duplex over `socket` that aedes can handle like the socket itself. `onOversize` is
 * called once before the socket is destroyed.
 */
export function guardPacketSize(socket, maxRemainingLength, onOversize) {
  const scanner = new PacketHeaderScanner(maxRemainingLength);
  const guarded = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk) => {
    if (!scanner.feed(chunk)) {
      onOversize();
      socket.destroy();
      return;
    }
    if (!guarded.push(chunk)) socket.pause();
  });
  socket.on('end', () => guarded.push(null));
  socket.on('close', () => guarded.destroy());
  socket.on('error', (error) => guarded.destroy(error));
  return guarded;
}
