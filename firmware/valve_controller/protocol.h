/* The waste_sorting serial protocol, as waste_sorting/protocol/frames.py defines it.
 *
 *   0xA5 0x5A | len u8 | seq u16 | type u8 | payload (len bytes) | crc u16
 *
 * Little-endian; the CRC (CRC-16/CCITT-FALSE) covers len, seq, type and payload.
 */
#ifndef VALVE_PROTOCOL_H
#define VALVE_PROTOCOL_H

#include <stdint.h>

#define SOF0 0xA5
#define SOF1 0x5A
#define MAX_PAYLOAD 64

enum msg_type {
    MSG_PING = 0x01, MSG_PONG = 0x02, MSG_HEARTBEAT = 0x03, MSG_FIRE = 0x10, MSG_PICK = 0x11,
    MSG_STOP = 0x20, MSG_ARM = 0x21, MSG_ACK = 0x80, MSG_NAK = 0x81, MSG_HELLO = 0x90,
};

enum nak_reason {
    NAK_BAD_FRAME = 1, NAK_DISARMED = 2, NAK_TOO_LATE = 3, NAK_BAD_VALVES = 4, NAK_QUEUE_FULL = 5,
    NAK_UNKNOWN_TYPE = 6,
};

/* payload sizes: PING 8, PONG 20, FIRE 19 (ejector, first, count, at_us u64, duration_us u32, item u32),
 * PICK 21 (ejector, x f32, y f32, at_us u64, item u32), ACK/NAK 3 (seq u16, state or reason u8), HELLO 4 */
static inline int8_t payload_size(uint8_t type) {
    switch (type) {
    case MSG_PING: return 8;
    case MSG_PONG: return 20;
    case MSG_HEARTBEAT: case MSG_STOP: case MSG_ARM: return 0;
    case MSG_FIRE: return 19;
    case MSG_PICK: return 21;
    case MSG_ACK: case MSG_NAK: return 3;
    case MSG_HELLO: return 4;
    default: return -1;
    }
}

static inline uint16_t crc16_update(uint16_t crc, uint8_t byte) {
    crc ^= (uint16_t)byte << 8;
    for (uint8_t i = 0; i < 8; i++)
        crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    return crc;
}

#endif
