/* Reference valve-bank controller for waste_sorting: Arduino Mega 2560 (ATmega2560, 16 MHz).
 *
 * Speaks the serial protocol of waste_sorting/protocol byte for byte on UART0 (the board's USB port):
 * framing with CRC, ACK/NAK with the same refusal reasons, heartbeat, clock-sync PING/PONG, timed
 * FIRE and PICK at controller time, ARM/STOP. Valves are driven through a chain of 74HC595 shift
 * registers, 32 valves (four chips) per ejector bank: the next output state is shifted in ahead of
 * time and latched by a Timer1 compare interrupt at the pulse's microsecond. Robot pick triggers are
 * PORTA pins (one per ejector, a PICK_PULSE_US pulse).
 *
 * Safety: every valve is off at reset (the 595s' output enable is held high by its pull-up until a
 * zero state is latched), on STOP, when heartbeats stop for WATCHDOG_US, and when the hardware
 * watchdog resets a hung firmware. No heap, no blocking waits in interrupts. The emergency stop is
 * hard-wired and never passes through this board's software.
 *
 * Pins: PE0/PE1 UART0; PB2 MOSI (D51) -> SER, PB1 SCK (D52) -> SRCLK, PB4 (D10) -> RCLK (latch),
 * PB5 (D11) -> /OE, PB0 (D53) SS (output, unused), PB7 (D13) LED on while armed, PORTA (D22-D29)
 * robot triggers.
 */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <stdint.h>
#include <string.h>

#include "protocol.h"

#define EJECTORS 8
#define VALVES 32                 /* per ejector bank */
#define BANK_BYTES (VALVES / 8)
#define MAX_PENDING 32            /* pulses queued or running; one more is refused with QUEUE_FULL */
#define SEEN 16                   /* FIRE/PICK replies remembered, so a retry is answered, not re-run */
#define WATCHDOG_US 500000UL      /* no frame from the host for this long: every valve off, disarmed */
#define PICK_PULSE_US 10000UL
#define LATE_TICKS 40             /* an event closer than this (0.5 us ticks) is latched at once */

typedef struct {
    uint64_t start, end;          /* controller microseconds */
    uint32_t item;
    uint32_t mask;                /* valves of the bank (bit 0: valve 0); 0: a robot pick */
    uint8_t ejector;
} pulse_t;

static pulse_t pending[MAX_PENDING];
static uint8_t n_pending;
static uint8_t armed;
static uint32_t boot_id;
static uint64_t committed_us;     /* time of the state on the outputs now */
static uint64_t planned_us;       /* time of the state shifted in, waiting for its latch */
static uint64_t last_rx_us;
static uint8_t watchdog_open = 1; /* the host has spoken since the last trip */

static struct { uint16_t seq; uint8_t type, code, used; } seen[SEEN];
static uint8_t seen_next;

/* ---- clock: Timer1 at clk/8 = 2 MHz, overflow count extends it to 48 bits -------------------- */
static volatile uint32_t overflows;
static volatile uint64_t latch_at;        /* ticks; 0: nothing armed */
static volatile uint8_t latched;
static volatile uint8_t porta_next;

static uint64_t ticks_now(void) {
    uint8_t sreg = SREG;
    cli();
    uint16_t t = TCNT1;
    uint32_t o = overflows;
    if ((TIFR1 & _BV(TOV1)) && t < 0x8000) o++;   /* an overflow not yet serviced */
    SREG = sreg;
    return ((uint64_t)o << 16) | t;
}

static uint64_t now_us(void) { return ticks_now() >> 1; }

static void latch(void) {
    PORTA = porta_next;
    PORTB |= _BV(PB4);
    PORTB &= ~_BV(PB4);
    latched = 1;
}

static void arm_compare_in_period(void) {       /* called with interrupts off */
    if (latch_at && (uint32_t)(latch_at >> 16) == overflows) {
        OCR1A = (uint16_t)latch_at;
        TIFR1 = _BV(OCF1A);
        TIMSK1 |= _BV(OCIE1A);
    }
}

ISR(TIMER1_OVF_vect) {
    overflows++;
    arm_compare_in_period();
}

ISR(TIMER1_COMPA_vect) {
    TIMSK1 &= ~_BV(OCIE1A);
    latch_at = 0;
    latch();
}

/* Latch what was shifted in at time ``at_us`` (now, if that is too close or past). */
static void schedule_latch(uint64_t at_us) {
    uint64_t at = at_us << 1;
    cli();
    TIMSK1 &= ~_BV(OCIE1A);
    latch_at = 0;
    uint64_t now = ticks_now();
    if (at <= now + LATE_TICKS) {
        latch();
    } else {
        latch_at = at;
        arm_compare_in_period();
    }
    sei();
}

/* ---- outputs -------------------------------------------------------------------------------- */
static void shift_state(const uint32_t *banks) {
    /* The last bank first: after EJECTORS * BANK_BYTES bytes, bank 0 sits in the first chips. */
    for (int8_t e = EJECTORS - 1; e >= 0; e--) {
        for (int8_t b = BANK_BYTES - 1; b >= 0; b--) {
            SPDR = (uint8_t)(banks[e] >> (8 * b));
            while (!(SPSR & _BV(SPIF))) {}
        }
    }
}

/* The outputs at time t: every pulse with start <= t < end. */
static void state_at(uint64_t t, uint32_t *banks, uint8_t *porta) {
    memset(banks, 0, EJECTORS * sizeof(uint32_t));
    *porta = 0;
    for (uint8_t i = 0; i < n_pending; i++) {
        const pulse_t *p = &pending[i];
        if (p->start <= t && t < p->end) {
            if (p->mask) banks[p->ejector] |= p->mask;
            else *porta |= (uint8_t)(1u << p->ejector);
        }
    }
}

/* Shift in the state of the next event and arm its latch; nothing to do: nothing armed. */
static void plan(void) {
    uint64_t next = UINT64_MAX;
    for (uint8_t i = 0; i < n_pending; i++) {
        uint64_t t = pending[i].start > committed_us ? pending[i].start : pending[i].end;
        if (t < next) next = t;
    }
    cli();
    TIMSK1 &= ~_BV(OCIE1A);
    latch_at = 0;
    sei();
    if (next == UINT64_MAX) return;
    uint32_t banks[EJECTORS];
    uint8_t porta;
    state_at(next, banks, &porta);
    shift_state(banks);
    porta_next = porta;
    planned_us = next;
    schedule_latch(next);
}

/* Every valve off now, nothing pending. */
static void all_off(void) {
    n_pending = 0;
    uint32_t banks[EJECTORS] = {0};
    cli();
    TIMSK1 &= ~_BV(OCIE1A);
    latch_at = 0;
    sei();
    shift_state(banks);
    porta_next = 0;
    latch();
    latched = 0;
    committed_us = now_us();
}

/* After a latch: the outputs show the planned time; finished pulses go. */
static void settle_latch(void) {
    committed_us = planned_us;
    uint8_t j = 0;
    for (uint8_t i = 0; i < n_pending; i++)
        if (pending[i].end > committed_us) pending[j++] = pending[i];
    n_pending = j;
    plan();
}

/* ---- serial --------------------------------------------------------------------------------- */
static volatile uint8_t rx_buf[256];
static volatile uint8_t rx_head, rx_tail;
static volatile uint8_t tx_buf[128];
static volatile uint8_t tx_head, tx_tail;

ISR(USART0_RX_vect) {
    uint8_t b = UDR0;
    uint8_t next = (uint8_t)(rx_head + 1);
    if (next != rx_tail) {                 /* a full buffer drops the byte: the CRC catches it */
        rx_buf[rx_head] = b;
        rx_head = next;
    }
}

ISR(USART0_UDRE_vect) {
    if (tx_head == tx_tail) {
        UCSR0B &= ~_BV(UDRIE0);
        return;
    }
    UDR0 = tx_buf[tx_tail];
    tx_tail = (uint8_t)((tx_tail + 1) & 127);
}

static void tx_byte(uint8_t b) {
    uint8_t next = (uint8_t)((tx_head + 1) & 127);
    while (next == tx_tail) {}             /* main loop only: the UDRE interrupt drains it */
    tx_buf[tx_head] = b;
    tx_head = next;
    UCSR0B |= _BV(UDRIE0);
}

static void send(uint8_t type, uint16_t seq, const uint8_t *payload, uint8_t len) {
    uint8_t header[4] = {len, (uint8_t)seq, (uint8_t)(seq >> 8), type};
    uint16_t crc = 0xFFFF;
    tx_byte(SOF0);
    tx_byte(SOF1);
    for (uint8_t i = 0; i < 4; i++) { tx_byte(header[i]); crc = crc16_update(crc, header[i]); }
    for (uint8_t i = 0; i < len; i++) { tx_byte(payload[i]); crc = crc16_update(crc, payload[i]); }
    tx_byte((uint8_t)crc);
    tx_byte((uint8_t)(crc >> 8));
}

static void reply(uint8_t type, uint16_t seq, uint8_t code) {
    uint8_t p[3] = {(uint8_t)seq, (uint8_t)(seq >> 8), code};
    send(type, seq, p, 3);
}

static uint64_t get_u64(const uint8_t *p) { uint64_t v = 0; for (int8_t i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static uint32_t get_u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void put_u64(uint8_t *p, uint64_t v) { for (uint8_t i = 0; i < 8; i++) { p[i] = (uint8_t)v; v >>= 8; } }
static void put_u32(uint8_t *p, uint32_t v) { for (uint8_t i = 0; i < 4; i++) { p[i] = (uint8_t)v; v >>= 8; } }

/* A FIRE or PICK: (ACK or NAK, state or reason). */
static void execute(uint8_t type, const uint8_t *p, uint8_t *out_type, uint8_t *out_code) {
    *out_type = MSG_NAK;
    if (!armed) { *out_code = NAK_DISARMED; return; }
    pulse_t pulse;
    uint64_t at;
    if (type == MSG_FIRE) {
        uint8_t ejector = p[0], first = p[1], count = p[2];
        if (ejector >= EJECTORS || count == 0 || first + count > VALVES) { *out_code = NAK_BAD_VALVES; return; }
        at = get_u64(p + 3);
        pulse.ejector = ejector;
        pulse.mask = (count >= 32 ? 0xFFFFFFFFUL : ((1UL << count) - 1)) << first;
        pulse.end = at + get_u32(p + 11);
        pulse.item = get_u32(p + 15);
    } else {
        uint8_t ejector = p[0];
        if (ejector >= EJECTORS) { *out_code = NAK_BAD_VALVES; return; }
        at = get_u64(p + 9);
        pulse.ejector = ejector;
        pulse.mask = 0;
        pulse.end = at + PICK_PULSE_US;
        pulse.item = get_u32(p + 17);
    }
    pulse.start = at;
    if (at < now_us()) { *out_code = NAK_TOO_LATE; return; }
    if (pulse.item) {                      /* an amendment replaces the item's pulse not yet begun */
        uint8_t j = 0;
        for (uint8_t i = 0; i < n_pending; i++) {
            pulse_t *q = &pending[i];
            if (!(q->item == pulse.item && q->ejector == pulse.ejector && q->start > committed_us))
                pending[j++] = *q;
        }
        n_pending = j;
    }
    if (n_pending >= MAX_PENDING) { *out_code = NAK_QUEUE_FULL; plan(); return; }
    pending[n_pending++] = pulse;
    plan();
    *out_type = MSG_ACK;
    *out_code = 1;
}

static void handle(uint8_t type, uint16_t seq, const uint8_t *p) {
    last_rx_us = now_us();
    watchdog_open = 1;
    switch (type) {
    case MSG_PING: {
        uint8_t out[20];
        memcpy(out, p, 8);
        put_u64(out + 8, now_us());
        put_u32(out + 16, boot_id);
        send(MSG_PONG, seq, out, 20);
        return;
    }
    case MSG_HEARTBEAT: reply(MSG_ACK, seq, armed); return;
    case MSG_STOP: all_off(); armed = 0; PORTB &= ~_BV(PB7); reply(MSG_ACK, seq, 0); return;
    case MSG_ARM: armed = 1; PORTB |= _BV(PB7); reply(MSG_ACK, seq, 1); return;
    case MSG_FIRE:
    case MSG_PICK: {
        for (uint8_t i = 0; i < SEEN; i++) {
            if (seen[i].used && seen[i].seq == seq) {   /* a retry: answer again, never run twice */
                reply(seen[i].type, seq, seen[i].code);
                return;
            }
        }
        uint8_t rt, code;
        execute(type, p, &rt, &code);
        seen[seen_next].seq = seq;
        seen[seen_next].type = rt;
        seen[seen_next].code = code;
        seen[seen_next].used = 1;
        seen_next = (uint8_t)((seen_next + 1) % SEEN);
        reply(rt, seq, code);
        return;
    }
    default: return;                       /* not a host command: ignored */
    }
}

/* Frame decoder: the same rules as waste_sorting.protocol.frames.FrameDecoder (drop one byte and hunt
 * for the next SOF on a bad CRC, a payload too long, an unknown type or a wrong payload size). */
static uint8_t fb[2 + 4 + MAX_PAYLOAD + 2];
static uint8_t fb_len;

static void drop(uint8_t n) {
    memmove(fb, fb + n, fb_len - n);
    fb_len -= n;
}

static void decode(void) {
    for (;;) {
        uint8_t i = 0;
        while (i < fb_len && !(fb[i] == SOF0 && (i + 1 >= fb_len || fb[i + 1] == SOF1))) i++;
        if (i) drop(i);
        if (fb_len < 6) return;
        uint8_t len = fb[2];
        if (len > MAX_PAYLOAD) { drop(1); continue; }
        uint8_t total = (uint8_t)(6 + len + 2);
        if (fb_len < total) return;
        uint16_t crc = 0xFFFF;
        for (uint8_t k = 2; k < 6 + len; k++) crc = crc16_update(crc, fb[k]);
        uint16_t got = (uint16_t)fb[6 + len] | (uint16_t)fb[7 + len] << 8;
        int8_t size = payload_size(fb[5]);
        if (got != crc || size < 0 || size != len) { drop(1); continue; }
        handle(fb[5], (uint16_t)fb[3] | (uint16_t)fb[4] << 8, fb + 6);
        drop(total);
    }
}

static void pump_rx(void) {
    while (rx_tail != rx_head) {
        if (fb_len == sizeof(fb)) drop(1);
        fb[fb_len++] = rx_buf[rx_tail];
        rx_tail = (uint8_t)(rx_tail + 1);
        decode();
    }
}

/* ---- start ---------------------------------------------------------------------------------- */
/* The controller clock starts first thing after reset (before the C runtime clears RAM), so its
 * zero is the reset: a simulator's or logic analyser's time and the controller's agree to 1 us. */
void start_clock(void) __attribute__((naked, used, section(".init3")));
void start_clock(void) {
    TCCR1A = 0;
    TCCR1B = _BV(CS11);                    /* clk/8: 0.5 us ticks */
}

static void setup(void) {
    MCUSR = 0;
    wdt_disable();
    DDRB |= _BV(PB0) | _BV(PB1) | _BV(PB2) | _BV(PB4) | _BV(PB5) | _BV(PB7);
    PORTB |= _BV(PB5);                     /* outputs disabled until a zero state is latched */
    DDRA = 0xFF;
    PORTA = 0;
    SPCR = _BV(SPE) | _BV(MSTR);           /* SPI master, clk/2 with SPI2X: 8 MHz */
    SPSR = _BV(SPI2X);
    TIMSK1 = _BV(TOIE1);
    UBRR0 = 1;                             /* 1 Mbaud with U2X at 16 MHz (0 % error) */
    UCSR0A = _BV(U2X0);
    UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
    sei();
    all_off();
    PORTB &= ~_BV(PB5);                    /* a zero state is latched: enable the outputs */
    uint32_t boots = eeprom_read_dword((uint32_t *)0);
    boots = boots == 0xFFFFFFFFUL ? 1 : boots + 1;         /* an erased EEPROM reads all ones */
    eeprom_write_dword((uint32_t *)0, boots);
    boot_id = boots * 2654435761UL;        /* differs every boot, so the host sees a restart */
    wdt_enable(WDTO_250MS);
    uint8_t hello[4];
    put_u32(hello, boot_id);
    send(MSG_HELLO, 0, hello, 4);
    last_rx_us = now_us();
}

int main(void) {
    setup();
    set_sleep_mode(SLEEP_MODE_IDLE);
    for (;;) {
        wdt_reset();
        pump_rx();
        if (latched) {
            latched = 0;
            settle_latch();
        }
        if (watchdog_open && now_us() - last_rx_us > WATCHDOG_US) {
            all_off();                     /* the host went silent: every valve closes */
            armed = 0;
            PORTB &= ~_BV(PB7);
            watchdog_open = 0;
        }
        cli();
        if (rx_tail == rx_head && !latched) {
            sleep_enable();
            sei();
            sleep_cpu();                   /* woken by any interrupt: a byte, a latch, an overflow */
            sleep_disable();
        }
        sei();
    }
}
