/* Runs the valve controller's firmware image in simavr, in step with the wall clock.
 *
 *   valve_controller_sim FIRMWARE.elf
 *
 * UART0 is bridged to a pseudo-terminal (simavr's uart_pty); its path is the first line on stdout,
 * "PTY /dev/pts/N", so the actuator opens it like a serial port. The 74HC595 chain (eight banks of
 * 32 valves) is modelled here from the SPI bytes and the latch pin; every change of a bank's outputs
 * is a line "V <simulated us> <bank> <valves hex>", every change of the robot trigger port
 * "P <simulated us> <pins hex>", every byte the firmware receives "R <hex>" (so the commands can be
 * matched with the pins). Simulated time follows the host clock: the firmware sleeps between
 * interrupts, simavr jumps over the sleep, and the harness waits until the wall clock catches up.
 * On SIGINT/SIGTERM it prints "LAG <worst lag of simulated behind wall time, us>" and exits.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <simavr/avr_ioport.h>
#include <simavr/avr_spi.h>
#include <simavr/avr_uart.h>
#include <simavr/parts/uart_pty.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>

#define F_CPU 16000000UL
#define BANKS 8
#define BANK_BYTES 4
#define LATCH_PIN 4   /* PB4 */

static avr_t *avr;
static uart_pty_t pty;
static uint8_t shift[BANKS * BANK_BYTES];
static uint32_t outputs[BANKS];
static volatile sig_atomic_t running = 1;

static uint64_t sim_us(void) { return avr->cycle / (F_CPU / 1000000UL); }

static void on_spi_byte(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)param;
    memmove(shift + 1, shift, sizeof(shift) - 1);   /* the newest byte is in the first chip */
    shift[0] = (uint8_t)value;
}

/* simavr 1.6 completes every SPI byte 100 us after it is written, whatever the SPI clock: the 32 bytes
 * the firmware shifts after each latch took 3.5 ms, so the next latch came up to 3.5 ms late in the
 * simulation only (the chip shifts them at 8 MHz in about 40 us). SPDR's write handler is replaced by
 * one that completes the byte after 8 SPI clocks, from SPCR's divider and SPI2X, as the chip does. */
#define SPDR_DATA 0x4E   /* ATmega2560 SPDR, data space address */

static avr_cycle_count_t spi_byte_done(avr_t *a, avr_cycle_count_t when, void *param) {
    avr_spi_t *p = (avr_spi_t *)param;
    (void)when;
    if (avr_regbit_get(a, p->spe) && avr_regbit_get(a, p->mstr)) {
        avr_raise_interrupt(a, &p->spi);
        avr_raise_irq(p->io.irq + SPI_IRQ_OUTPUT, a->data[p->r_spdr]);
    }
    return 0;
}

static void spdr_write(avr_t *a, avr_io_addr_t addr, uint8_t v, void *param) {
    static const uint8_t divider[4] = {4, 16, 64, 128};
    avr_spi_t *p = (avr_spi_t *)param;
    uint32_t clocks = divider[a->data[p->r_spcr] & 3];
    if (avr_regbit_get(a, p->spr[2])) clocks /= 2;   /* SPI2X */
    avr_regbit_clear(a, p->spi.raised);              /* writing SPDR starts a byte: SPIF clears */
    avr_core_watch_write(a, addr, v);
    avr_cycle_timer_register(a, clocks * 8, spi_byte_done, p);
}

static int spi_at_chip_speed(avr_t *a) {
    void *param = a->io[AVR_DATA_TO_IO(SPDR_DATA)].w.param;
    if (!param || ((avr_spi_t *)param)->r_spdr != SPDR_DATA) return 0;
    a->io[AVR_DATA_TO_IO(SPDR_DATA)].w.c = spdr_write;
    return 1;
}

static void on_latch(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)param;
    if (!(value && !irq->value)) return;             /* RCLK rising edge stores the shift register */
    for (int e = 0; e < BANKS; e++) {
        uint32_t word = (uint32_t)shift[4 * e] | (uint32_t)shift[4 * e + 1] << 8 |
                        (uint32_t)shift[4 * e + 2] << 16 | (uint32_t)shift[4 * e + 3] << 24;
        if (word != outputs[e]) {
            outputs[e] = word;
            printf("V %llu %d %08x\n", (unsigned long long)sim_us(), e, word);
        }
    }
    fflush(stdout);
}

static void on_porta(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)param;
    if (value != irq->value) {
        printf("P %llu %02x\n", (unsigned long long)sim_us(), value & 0xFF);
        fflush(stdout);
    }
}

static void on_uart_in(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq; (void)param;
    printf("R %02x\n", value & 0xFF);     /* a byte the firmware receives from the host */
}

static void stop(int sig) { (void)sig; running = 0; }

static uint64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FIRMWARE.elf\n", argv[0]);
        return 2;
    }
    elf_firmware_t fw;
    memset(&fw, 0, sizeof(fw));
    if (elf_read_firmware(argv[1], &fw) != 0) {
        fprintf(stderr, "cannot read firmware %s\n", argv[1]);
        return 1;
    }
    avr = avr_make_mcu_by_name("atmega2560");
    if (!avr) {
        fprintf(stderr, "simavr has no atmega2560\n");
        return 1;
    }
    avr_init(avr);
    fw.frequency = F_CPU;
    avr_load_firmware(avr, &fw);
    avr->frequency = F_CPU;
    avr->log = LOG_ERROR;

    if (!spi_at_chip_speed(avr))
        fprintf(stderr, "SPI kept at simavr's own speed (its SPDR handler is not the one expected)\n");
    uart_pty_init(avr, &pty);
    uart_pty_connect(&pty, '0');
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_SPI_GETIRQ(0), SPI_IRQ_OUTPUT), on_spi_byte, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), LATCH_PIN), on_latch, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('A'), IOPORT_IRQ_PIN_ALL), on_porta,
                            NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT), on_uart_in, NULL);
    printf("PTY %s\n", pty.pty.slavename);
    fflush(stdout);

    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    uint64_t start = wall_us();
    uint64_t worst_lag = 0;
    unsigned n = 0;
    while (running) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "firmware stopped (state %d)\n", state);
            break;
        }
        if (++n % 512 == 0 || avr->state == cpu_Sleeping) {
            uint64_t sim = sim_us(), wall = wall_us() - start;
            if (sim > wall + 50) {                   /* ahead: wait for the wall clock */
                uint64_t ahead = sim - wall;
                struct timespec ts = {(time_t)(ahead / 1000000ULL), (long)(ahead % 1000000ULL) * 1000L};
                nanosleep(&ts, NULL);
            } else if (wall > sim && wall - sim > worst_lag && sim > 100000) {
                worst_lag = wall - sim;
            }
        }
    }
    printf("LAG %llu\n", (unsigned long long)worst_lag);
    fflush(stdout);
    uart_pty_stop(&pty);
    return 0;
}
