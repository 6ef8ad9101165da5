/*
 * An independent Modbus peer for roomctl's tests: libmodbus (Debian libmodbus-dev)
 * answering as a TCP gateway with several units, or as one RTU unit on a serial
 * line (a socat pseudo-terminal). Every answer is libmodbus's own modbus_reply() or
 * modbus_reply_exception(); this file only decides whether and when to answer.
 *
 *   libmodbus-peer tcp PORT
 *   libmodbus-peer rtu DEVICE BAUD UNIT
 *
 * Commands on stdin, one per line, each acknowledged with "ok" on stdout:
 *   set U T A V...   registers/bits of unit U from address A (T: h holding, i input, c coil, d discrete)
 *   get U T A        prints "value V"
 *   dead U 0|1       the unit never answers
 *   delay U MS       the unit answers MS late
 *   refuse U T A     a read of table T covering address A gets exception 2 (illegal data address)
 *   only16 U 0|1     FC6 gets exception 1 (illegal function): the unit takes FC16 only
 *   boot U           remember the unit's registers as its power-on state
 *   reboot U MS      silent for MS, then back with its power-on registers
 * Every request is printed as "req U FC ADDR COUNT" before it is answered (or not).
 */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define UNITS 248
#define SIZE 512
#define MAX_CLIENTS 16

typedef struct {
  modbus_mapping_t *map, *boot;
  int dead, delay_ms, only16, refuse_table, refuse_addr;
  double silent_until;
} unit_t;

static unit_t units[UNITS];

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static modbus_mapping_t *new_map(void) { return modbus_mapping_new(SIZE, SIZE, SIZE, SIZE); }

static void copy_map(modbus_mapping_t *to, const modbus_mapping_t *from) {
  memcpy(to->tab_bits, from->tab_bits, SIZE);
  memcpy(to->tab_input_bits, from->tab_input_bits, SIZE);
  memcpy(to->tab_registers, from->tab_registers, SIZE * 2);
  memcpy(to->tab_input_registers, from->tab_input_registers, SIZE * 2);
}

static unit_t *unit_at(int u) {
  if (u < 0 || u >= UNITS) return NULL;
  if (!units[u].map) units[u].map = new_map(), units[u].refuse_addr = -1;
  return &units[u];
}

static void command(char *line) {
  char op[16], t = 0;
  int u = 0, a = 0, n = 0, used = 0;
  if (sscanf(line, "%15s %d%n", op, &u, &used) < 2) { printf("error %s\n", line); return; }
  unit_t *x = unit_at(u);
  char *rest = line + used;
  if (!x) { printf("error unit %d\n", u); return; }
  if (!strcmp(op, "set") && sscanf(rest, " %c %d%n", &t, &a, &n) == 2) {
    rest += n;
    long v;
    char *end;
    for (int i = a; i < SIZE; i++, rest = end) {
      v = strtol(rest, &end, 0);
      if (end == rest) break;
      if (t == 'h') x->map->tab_registers[i] = v;
      else if (t == 'i') x->map->tab_input_registers[i] = v;
      else if (t == 'c') x->map->tab_bits[i] = v != 0;
      else if (t == 'd') x->map->tab_input_bits[i] = v != 0;
    }
  } else if (!strcmp(op, "get") && sscanf(rest, " %c %d", &t, &a) == 2 && a >= 0 && a < SIZE) {
    int v = t == 'h' ? x->map->tab_registers[a] : t == 'i' ? x->map->tab_input_registers[a] : t == 'c' ? x->map->tab_bits[a] : x->map->tab_input_bits[a];
    printf("value %d\n", v);
  } else if (!strcmp(op, "dead")) x->dead = atoi(rest);
  else if (!strcmp(op, "delay")) x->delay_ms = atoi(rest);
  else if (!strcmp(op, "only16")) x->only16 = atoi(rest);
  else if (!strcmp(op, "refuse") && sscanf(rest, " %c %d", &t, &a) == 2) x->refuse_table = t, x->refuse_addr = a;
  else if (!strcmp(op, "boot")) {
    if (!x->boot) x->boot = new_map();
    copy_map(x->boot, x->map);
  } else if (!strcmp(op, "reboot")) x->silent_until = now_s() + atoi(rest) / 1000.0;
  else { printf("error %s\n", line); return; }
  printf("ok\n");
}

/* Answers one request as the addressed unit would, or stays silent. */
static void handle(modbus_t *ctx, uint8_t *q, int len) {
  int off = modbus_get_header_length(ctx);
  int u = q[off - 1], fc = q[off], addr = (q[off + 1] << 8) | q[off + 2];
  int count = (fc <= 4 || fc == 15 || fc == 16) ? (q[off + 3] << 8) | q[off + 4] : 1;
  printf("req %d %d %d %d\n", u, fc, addr, count);
  unit_t *x = u < UNITS ? &units[u] : NULL;
  if (!x || !x->map || x->dead) return;
  if (x->silent_until > 0) {
    if (now_s() < x->silent_until) return;
    x->silent_until = 0; /* the reboot is over: power-on registers */
    if (x->boot) copy_map(x->map, x->boot);
  }
  if (x->delay_ms) usleep(x->delay_ms * 1000);
  char table = fc == 1 ? 'c' : fc == 2 ? 'd' : fc == 3 ? 'h' : fc == 4 ? 'i' : 0;
  if (table && table == x->refuse_table && x->refuse_addr >= addr && x->refuse_addr < addr + count)
    modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
  else if (fc == 6 && x->only16)
    modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
  else
    modbus_reply(ctx, q, len, x->map);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int tcp = argc == 3 && !strcmp(argv[1], "tcp"), rtu = argc == 5 && !strcmp(argv[1], "rtu");
  if (!tcp && !rtu) { fprintf(stderr, "usage: %s tcp PORT | rtu DEVICE BAUD UNIT\n", argv[0]); return 2; }
  modbus_t *ctx = tcp ? modbus_new_tcp("127.0.0.1", atoi(argv[2])) : modbus_new_rtu(argv[2], atoi(argv[3]), 'N', 8, 1);
  if (!ctx) { fprintf(stderr, "modbus_new: %s\n", modbus_strerror(errno)); return 1; }
  int listener = -1, clients[MAX_CLIENTS];
  for (int i = 0; i < MAX_CLIENTS; i++) clients[i] = -1;
  if (tcp) {
    listener = modbus_tcp_listen(ctx, MAX_CLIENTS);
    if (listener < 0) { fprintf(stderr, "listen: %s\n", modbus_strerror(errno)); return 1; }
  } else {
    modbus_set_slave(ctx, atoi(argv[4]));
    unit_at(atoi(argv[4]));
    if (modbus_connect(ctx) < 0) { fprintf(stderr, "open %s: %s\n", argv[2], modbus_strerror(errno)); return 1; }
    clients[0] = modbus_get_socket(ctx);
  }
  printf("ready\n");
  uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
  char line[4096];
  size_t have = 0;
  for (;;) {
    fd_set r;
    FD_ZERO(&r);
    FD_SET(0, &r);
    int top = 0;
    if (listener >= 0) FD_SET(listener, &r), top = listener;
    for (int i = 0; i < MAX_CLIENTS; i++)
      if (clients[i] >= 0) FD_SET(clients[i], &r), top = clients[i] > top ? clients[i] : top;
    if (select(top + 1, &r, NULL, NULL, NULL) < 0) { if (errno == EINTR) continue; return 1; }
    if (FD_ISSET(0, &r)) {
      ssize_t got = read(0, line + have, sizeof line - 1 - have);
      if (got <= 0) return 0; /* the test went away */
      have += got;
      char *nl;
      while ((nl = memchr(line, '\n', have))) {
        *nl = 0;
        command(line);
        have -= nl + 1 - line;
        memmove(line, nl + 1, have);
      }
    }
    if (listener >= 0 && FD_ISSET(listener, &r)) {
      int fd = modbus_tcp_accept(ctx, &listener);
      for (int i = 0; i < MAX_CLIENTS && fd >= 0; i++)
        if (clients[i] < 0) { clients[i] = fd; fd = -1; }
      if (fd >= 0) close(fd);
    }
    for (int i = 0; i < MAX_CLIENTS; i++) {
      if (clients[i] < 0 || !FD_ISSET(clients[i], &r)) continue;
      modbus_set_socket(ctx, clients[i]);
      int len = modbus_receive(ctx, q);
      if (len > 0) handle(ctx, q, len);
      else if (len < 0 && tcp) close(clients[i]), clients[i] = -1; /* client closed, or garbage */
      else if (len < 0) modbus_flush(ctx); /* RTU: a bad frame on the line; wait for the next one */
    }
  }
}
