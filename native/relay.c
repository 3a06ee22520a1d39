/*
 * relay.c: the gateway's native transport (src/lib/gateway/native-transport.ts), an N-API addon that drives
 * libuv TCP handles on Node's own event loop (napi_get_uv_event_loop; node exports the uv_* symbols).
 *
 * The split with JavaScript: C owns the sockets and, once two endpoints are piped, moves their bytes both
 * ways without entering JavaScript (no Buffer, no callback per read), and ends a piped pair the ordinary way
 * by itself: a FIN read on one side is passed on to the other (once the bytes before it are out), and when
 * both directions are done C closes both sockets and reports it once (pipeDone). JavaScript keeps every
 * other decision: errors, resets, drops, timeouts, what a connect result means, and everything before and
 * after a pipe (the endpoint state machine in native-transport.ts). So, per proxied connection, C calls into
 * JavaScript three times when all goes well: accept, connect result, pipeDone.
 *
 * Endpoints are numbers, not JavaScript objects: an id is a slot in the relay's table plus a generation
 * (id = generation * 2^24 + slot), so a stale id never reaches another socket, and no N-API reference,
 * external or finalizer is made per socket (each costs global handles and work in every garbage
 * collection). Calls into JavaScript pass the slot; native-transport.ts keeps the endpoint of each slot.
 *
 * Calls into JavaScript use napi_make_callback, not napi_call_function: they come from libuv, not from
 * JavaScript, so nothing else would run the process.nextTick queue and the microtasks the callback leaves
 * behind (the gateway emits events, resolves promises); napi_make_callback runs them, as Node does after
 * its own socket callbacks. A callback that throws is handed to napi_fatal_exception (uncaughtException,
 * as for any socket callback). C updates its own state before calling JavaScript and re-checks it after
 * (JavaScript may have closed either side meanwhile), so an exception leaves nothing half-done.
 *
 * Lifetimes: a side_t (and its slot) is freed when its uv handle is closed (close callback run) and no piped
 * write to its peer still points into its read buffer. JavaScript stops using an id when it closes the
 * endpoint (or hears pipeDone), before that can happen. libuv completes pending requests with UV_ECANCELED
 * before the close callback, so request callbacks may always dereference their side. One relay_t per
 * napi_env (instance data).
 */
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* First read buffer: small, so idle connections cost little; once a read fills it, read 64 KiB at a time. */
#define BUF_MIN 2048
#define BUF_MAX 65536

/* Slots per table index bits: an id is generation * SLOT_SPAN + slot. */
#define SLOT_SPAN 16777216.0
#define MAX_SLOTS 16777216u

enum { CB_ACCEPT, CB_ACCEPT_ERROR, CB_CONNECT, CB_DATA, CB_END, CB_ERROR, CB_WRITE, CB_SHUTDOWN, CB_PIPE_DONE, CB_COUNT };
static const char *CB_NAMES[CB_COUNT] = {"accept", "acceptError", "connect", "data", "end", "error", "write", "shutdown", "pipeDone"};

typedef struct side_s side_t;

typedef struct relay_s {
  napi_env env;
  uv_loop_t *loop;
  napi_ref cb[CB_COUNT];
  napi_async_context ctx;
  bool ready;
  double sides;   /* side_t structs not freed yet */
  double handles; /* uv handles (sides and listeners) whose close callback has not run yet */
  side_t **slots; /* live sides by slot */
  uint32_t *generations;
  uint32_t *free_slots;
  uint32_t slot_count, free_count;
} relay_t;

struct side_s {
  uv_tcp_t tcp;            /* tcp.data == this */
  relay_t *relay;
  uint32_t slot;
  side_t *peer;            /* piped to */
  side_t *pw_src;          /* pending piped write to this side: the side whose buffer it holds */
  char *buf;
  size_t cap;
  uint64_t bytes_read;
  uint64_t last_active;    /* uv_now() of the last byte read or written */
  uv_write_t pwreq;
  uv_shutdown_t sreq;
  uv_connect_t creq;
  int refs;                /* handle + lent */
  unsigned open : 1;       /* uv_close not called yet */
  unsigned known : 1;      /* JavaScript has an endpoint for it: callbacks go there */
  unsigned handle_live : 1;/* close callback not run yet */
  unsigned want_read : 1;  /* JavaScript or pipe() asked to read */
  unsigned active : 1;     /* uv_read_start in effect */
  unsigned lent : 1;       /* buf is held by a pending write to the peer: do not read */
  unsigned eof : 1;
  unsigned grow : 1;
  unsigned fin_sent : 1;   /* our FIN went out on this socket */
  unsigned fin_piped : 1;  /* a uv_shutdown asked by the pipe (not JavaScript) is in flight */
};

typedef struct listener_s {
  uv_tcp_t tcp;
  relay_t *relay;
  napi_ref js;
  int refs;                /* handle + external */
  unsigned open : 1;
} listener_t;

typedef struct js_write_s {
  uv_write_t req;
  side_t *side;
  char data[];
} js_write_t;

/* ------------------------------------------------------------------ calls into JavaScript */

/* Calls JavaScript; false when it threw (the exception went to uncaughtException) or could not be called. */
static bool invoke(relay_t *r, int cb, size_t argc, napi_value *argv) {
  napi_env env = r->env;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, r->cb[cb], &fn) != napi_ok || fn == NULL) return false;
  /* napi_make_callback wants an object as the receiver. */
  napi_get_global(env, &recv);
  if (napi_make_callback(env, r->ctx, recv, fn, argc, argv, &result) == napi_ok) return true;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  return false;
}

/* cb(slot, status) for an open side JavaScript knows. */
static void emit(side_t *s, int cb, int status) {
  if (!s->open || !s->known) return;
  relay_t *r = s->relay;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  napi_value argv[2];
  napi_create_uint32(r->env, s->slot, &argv[0]);
  napi_create_int32(r->env, status, &argv[1]);
  invoke(r, cb, 2, argv);
  napi_close_handle_scope(r->env, scope);
}

static void emit_data(side_t *s, const char *data, size_t len) {
  if (!s->open || !s->known) return;
  relay_t *r = s->relay;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  napi_value argv[2];
  void *copy;
  napi_create_uint32(r->env, s->slot, &argv[0]);
  if (napi_create_buffer_copy(r->env, len, data, &copy, &argv[1]) == napi_ok) invoke(r, CB_DATA, 2, argv);
  napi_close_handle_scope(r->env, scope);
}

/* ------------------------------------------------------------------ lifetimes */

static double side_id(const side_t *s) {
  return (double)s->relay->generations[s->slot] * SLOT_SPAN + (double)s->slot;
}

/* A slot for s: a freed one, or a new one (the table doubles). */
static bool slot_take(relay_t *r, side_t *s) {
  if (r->free_count == 0) {
    uint32_t old = r->slot_count;
    if (old >= MAX_SLOTS) return false;
    uint32_t count = old == 0 ? 1024 : old * 2;
    side_t **slots = realloc(r->slots, count * sizeof *slots);
    if (slots == NULL) return false;
    r->slots = slots;
    uint32_t *generations = realloc(r->generations, count * sizeof *generations);
    if (generations == NULL) return false;
    r->generations = generations;
    uint32_t *free_slots = realloc(r->free_slots, count * sizeof *free_slots);
    if (free_slots == NULL) return false;
    r->free_slots = free_slots;
    for (uint32_t i = count; i > old; i--) {
      r->slots[i - 1] = NULL;
      r->generations[i - 1] = 0;
      r->free_slots[r->free_count++] = i - 1;
    }
    r->slot_count = count;
  }
  s->slot = r->free_slots[--r->free_count];
  r->slots[s->slot] = s;
  return true;
}

static void side_unref(side_t *s) {
  if (--s->refs > 0) return;
  relay_t *r = s->relay;
  r->slots[s->slot] = NULL;
  /* A new generation: ids JavaScript may still hold for this slot name nothing from now on. */
  r->generations[s->slot] = (r->generations[s->slot] + 1) & 0x1fffffff;
  r->free_slots[r->free_count++] = s->slot;
  r->sides--;
  free(s);
}

static void side_free_buffer_if_unused(side_t *s) {
  if (s->handle_live || s->lent) return;
  free(s->buf);
  s->buf = NULL;
  s->cap = 0;
}

static void side_lend(side_t *s) {
  s->lent = 1;
  s->refs++;
}

static void on_side_closed(uv_handle_t *h) {
  side_t *s = h->data;
  s->handle_live = 0;
  s->relay->handles--;
  side_free_buffer_if_unused(s);
  side_unref(s);
}

static side_t *side_new(relay_t *r) {
  side_t *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->relay = r;
  s->tcp.data = s;
  if (!slot_take(r, s)) {
    free(s);
    return NULL;
  }
  if (uv_tcp_init(r->loop, &s->tcp) != 0) {
    r->slots[s->slot] = NULL;
    r->free_slots[r->free_count++] = s->slot;
    free(s);
    return NULL;
  }
  s->refs = 1;
  s->open = 1;
  s->handle_live = 1;
  s->last_active = uv_now(r->loop);
  r->sides++;
  r->handles++;
  return s;
}

static void side_close(side_t *s, bool reset) {
  if (!s->open) return;
  s->open = 0;
  if (reset) {
    /* uv_tcp_close_reset refuses a handle that was shut down; SO_LINGER {1, 0} + close sends the RST anyway. */
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&s->tcp, &fd) == 0) {
      struct linger linger = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    }
  }
  if (s->peer != NULL) {
    s->peer->peer = NULL;
    s->peer = NULL;
  }
  s->known = 0;
  s->active = 0;
  uv_close((uv_handle_t *)&s->tcp, on_side_closed);
}

static void on_listener_closed(uv_handle_t *h) {
  listener_t *l = h->data;
  l->relay->handles--;
  if (--l->refs == 0) free(l);
}

static void finalize_listener(napi_env env, void *data, void *hint) {
  listener_t *l = data;
  if (--l->refs == 0) free(l);
}

/* ------------------------------------------------------------------ reading and relaying */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  side_t *s = h->data;
  /* Reading only happens while no write holds this buffer: it may be replaced here. */
  if (s->buf == NULL || s->grow) {
    size_t cap = s->buf == NULL ? BUF_MIN : BUF_MAX;
    char *fresh = malloc(cap);
    if (fresh != NULL) {
      free(s->buf);
      s->buf = fresh;
      s->cap = cap;
    }
    s->grow = 0;
  }
  /* No buffer at all: length 0 makes libuv report UV_ENOBUFS. */
  *buf = uv_buf_init(s->buf, s->buf != NULL ? (unsigned)s->cap : 0);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static int update_reading(side_t *s) {
  bool should = s->open && s->want_read && !s->lent && !s->eof;
  if (should && !s->active) {
    int status = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (status != 0) return status;
    s->active = 1;
  } else if (!should && s->active) {
    uv_read_stop((uv_stream_t *)&s->tcp);
    s->active = 0;
  }
  return 0;
}

/* ------------------------------------------------------------------ ending a piped pair */

/* Nothing of ours waits to go out on s: a close() would send its FIN right now. */
static bool side_drained(side_t *s) {
  return s->pw_src == NULL && uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) == 0;
}

/* Both directions of a piped pair are over: both peers sent their FIN, ours is out (or a close sends it:
 * nothing is queued, and nothing unread is left since we read up to the peer's FIN, so no reset). */
static bool pipe_over(side_t *s) {
  side_t *p = s->peer;
  if (p == NULL || !s->eof || !p->eof || s->fin_piped || p->fin_piped) return false;
  return (s->fin_sent || side_drained(s)) && (p->fin_sent || side_drained(p));
}

/* Closes both sockets, then tells JavaScript once: pipeDone(slotA, slotB, bytesA, bytesB, idleA, idleB). */
static void pipe_finish(side_t *a) {
  side_t *b = a->peer;
  relay_t *r = a->relay;
  uint64_t now = uv_now(r->loop);
  bool known = a->known && b->known;
  uint32_t slots[2] = {a->slot, b->slot};
  double bytes[2] = {(double)a->bytes_read, (double)b->bytes_read};
  double idle[2] = {now > a->last_active ? (double)(now - a->last_active) : 0,
                    now > b->last_active ? (double)(now - b->last_active) : 0};
  side_close(a, false);
  side_close(b, false);
  if (!known) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  napi_value argv[6];
  for (int i = 0; i < 2; i++) {
    napi_create_uint32(r->env, slots[i], &argv[i]);
    napi_create_double(r->env, bytes[i], &argv[2 + i]);
    napi_create_double(r->env, idle[i], &argv[4 + i]);
  }
  invoke(r, CB_PIPE_DONE, 6, argv);
  napi_close_handle_scope(r->env, scope);
}

static void on_shutdown(uv_shutdown_t *req, int status);

/* The peer of p sent its FIN: p gets ours once what came before it is out. */
static void pipe_pass_fin(side_t *p) {
  if (p->fin_sent || p->fin_piped || !p->open) return;
  uv_os_fd_t fd;
  if (side_drained(p) && uv_fileno((uv_handle_t *)&p->tcp, &fd) == 0) {
    /* shutdown(2) now: uv_shutdown would wait for a POLLOUT (two epoll_ctl) to do the same. */
    if (shutdown(fd, SHUT_WR) == 0) {
      p->fin_sent = 1;
      return;
    }
    emit(p, CB_ERROR, -errno);
    return;
  }
  int status = uv_shutdown(&p->sreq, (uv_stream_t *)&p->tcp, on_shutdown);
  if (status != 0) emit(p, CB_ERROR, status);
  else p->fin_piped = 1;
}

/* s read its peer's FIN while piped: pass it on, or close the pair when that was the last thing to wait for. */
static void pipe_eof(side_t *s) {
  if (pipe_over(s)) {
    pipe_finish(s);
    return;
  }
  side_t *p = s->peer;
  pipe_pass_fin(p);
  if (s->peer == p && pipe_over(s)) pipe_finish(s);
}

/* ------------------------------------------------------------------ relaying */

static void on_pipe_write(uv_write_t *req, int status) {
  side_t *target = req->handle->data;
  side_t *source = target->pw_src;
  target->pw_src = NULL;
  if (status == 0) target->last_active = uv_now(target->relay->loop);
  /* Free to read again before JavaScript hears of anything: an error callback may close either side. */
  source->lent = 0;
  if (status < 0 && status != UV_ECANCELED) emit(target, CB_ERROR, status);
  if (source->open) {
    int started = update_reading(source);
    if (started != 0) emit(source, CB_ERROR, started);
  }
  /* The last bytes before a FIN went out: the pair may be over. */
  if (status == 0 && source->open && source->peer == target && pipe_over(source)) pipe_finish(source);
  side_free_buffer_if_unused(source);
  side_unref(source);
}

/* Bytes read from s go to its peer: uv_try_write (no request, no copy), then uv_write for the rest while s
 * stops reading (back-pressure; the write holds s's buffer). */
static void forward(side_t *s, char *data, size_t len) {
  side_t *p = s->peer;
  uv_buf_t b = uv_buf_init(data, (unsigned)len);
  int written = uv_try_write((uv_stream_t *)&p->tcp, &b, 1);
  if (written == (int)len) {
    p->last_active = s->last_active;
    return;
  }
  if (written < 0 && written != UV_EAGAIN) {
    emit(p, CB_ERROR, written);
    return;
  }
  if (written > 0) {
    b.base += written;
    b.len -= written;
  }
  int status = uv_write(&p->pwreq, (uv_stream_t *)&p->tcp, &b, 1, on_pipe_write);
  if (status != 0) {
    emit(p, CB_ERROR, status);
    return;
  }
  p->pw_src = s;
  side_lend(s);
  update_reading(s);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  side_t *s = stream->data;
  if (nread > 0) {
    s->bytes_read += (uint64_t)nread;
    s->last_active = uv_now(s->relay->loop);
    if ((size_t)nread == s->cap && s->cap < BUF_MAX) s->grow = 1;
    if (s->peer != NULL) forward(s, buf->base, (size_t)nread);
    else emit_data(s, buf->base, (size_t)nread);
    return;
  }
  if (nread == 0) return;
  uv_read_stop(stream);
  s->active = 0;
  if (nread == UV_EOF) {
    s->eof = 1;
    if (s->peer != NULL) pipe_eof(s);
    else emit(s, CB_END, 0);
  } else {
    emit(s, CB_ERROR, (int)nread);
  }
}

/* Reads what is already waiting on s, as libuv would on its next POLLIN: on a new connection the client's
 * first bytes (sent before the backend was even connected) usually are, and reading them now saves a turn of
 * the loop. Only while reading is allowed; EAGAIN leaves it to libuv. */
static void read_now(side_t *s) {
  uv_os_fd_t fd;
  if (!s->active || uv_fileno((uv_handle_t *)&s->tcp, &fd) != 0) return;
  uv_buf_t buf;
  on_alloc((uv_handle_t *)&s->tcp, BUF_MAX, &buf);
  if (buf.len == 0) return;
  ssize_t n;
  do n = read(fd, buf.base, buf.len);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  on_read((uv_stream_t *)&s->tcp, n > 0 ? n : n == 0 ? UV_EOF : -errno, &buf);
}

static void on_js_write(uv_write_t *req, int status) {
  js_write_t *w = (js_write_t *)req;
  side_t *s = w->side;
  free(w);
  if (status == UV_ECANCELED) return;
  if (status == 0) s->last_active = uv_now(s->relay->loop);
  emit(s, CB_WRITE, status);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  side_t *s = req->handle->data;
  if (status == UV_ECANCELED) return;
  if (status == 0) s->fin_sent = 1;
  if (!s->fin_piped) {
    emit(s, CB_SHUTDOWN, status);
    return;
  }
  s->fin_piped = 0;
  if (status < 0) emit(s, CB_ERROR, status);
  else if (s->open && pipe_over(s)) pipe_finish(s);
}

static void on_connect(uv_connect_t *req, int status) {
  side_t *s = req->handle->data;
  if (status == UV_ECANCELED) return;
  if (status == 0) s->last_active = uv_now(s->relay->loop);
  emit(s, CB_CONNECT, status);
  /* Reading started with the connect (js_connect): libuv reads nothing before this callback, and JavaScript
   * asked to read in it (pipe(), readStart()) or did not, in which case reading stops until it asks. */
  if (status == 0 && s->open) {
    int started = update_reading(s);
    if (started != 0) emit(s, CB_ERROR, started);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  listener_t *l = server->data;
  relay_t *r = l->relay;
  if (!l->open) return;
  napi_handle_scope scope;
  if (status < 0) {
    /* EMFILE, ENFILE...: libuv keeps listening. */
    if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
    napi_value argv[2];
    napi_get_reference_value(r->env, l->js, &argv[0]);
    napi_create_int32(r->env, status, &argv[1]);
    invoke(r, CB_ACCEPT_ERROR, 2, argv);
    napi_close_handle_scope(r->env, scope);
    return;
  }
  side_t *s = side_new(r);
  if (s == NULL) return;
  if (uv_accept(server, (uv_stream_t *)&s->tcp) != 0) {
    side_close(s, false);
    return;
  }
  uv_tcp_nodelay(&s->tcp, 1);
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) {
    side_close(s, true);
    return;
  }
  napi_value argv[2];
  napi_get_reference_value(r->env, l->js, &argv[0]);
  napi_create_double(r->env, side_id(s), &argv[1]);
  s->known = 1;
  /* JavaScript threw before taking it: nobody would ever close it. */
  if (!invoke(r, CB_ACCEPT, 2, argv)) side_close(s, true);
  napi_close_handle_scope(r->env, scope);
}

/* ------------------------------------------------------------------ functions for JavaScript */

static relay_t *relay_of(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  void *data;
  napi_get_cb_info(env, info, argc, argv, NULL, &data);
  return data;
}

/* The side an id names; NULL for an id that names nothing (any more). */
static side_t *side_arg(relay_t *r, napi_env env, napi_value value) {
  double id;
  if (napi_get_value_double(env, value, &id) != napi_ok || !(id >= 0)) return NULL;
  double generation = (double)(uint64_t)(id / SLOT_SPAN);
  double slot = id - generation * SLOT_SPAN;
  if (slot >= r->slot_count || (double)r->generations[(uint32_t)slot] != generation) return NULL;
  return r->slots[(uint32_t)slot];
}

static napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

static napi_value undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

#define ARGS(n)                                                \
  size_t argc = n;                                             \
  napi_value argv[n > 0 ? n : 1];                              \
  relay_t *relay = relay_of(env, info, &argc, argv);           \
  (void)relay;                                                 \
  if (argc < n) {                                              \
    napi_throw_type_error(env, NULL, "missing arguments");     \
    return NULL;                                               \
  }

#define SIDE(index)                                            \
  side_t *s = side_arg(relay, env, argv[index]);               \
  if (s == NULL) {                                             \
    napi_throw_type_error(env, NULL, "not a live endpoint id"); \
    return NULL;                                               \
  }

/* setup({accept, acceptError, connect, data, end, error, write, shutdown, pipeDone}) */
static napi_value js_setup(napi_env env, napi_callback_info info) {
  ARGS(1)
  if (relay->ready) return undefined(env);
  for (int i = 0; i < CB_COUNT; i++) {
    napi_value fn;
    napi_valuetype type;
    if (napi_get_named_property(env, argv[0], CB_NAMES[i], &fn) != napi_ok) return NULL;
    napi_typeof(env, fn, &type);
    if (type != napi_function) {
      napi_throw_type_error(env, NULL, "setup: every callback must be a function");
      return NULL;
    }
    napi_create_reference(env, fn, 1, &relay->cb[i]);
  }
  napi_value name;
  napi_create_string_utf8(env, "ScalingoTcpNativeRelay", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, NULL, name, &relay->ctx) != napi_ok) return NULL;
  relay->ready = true;
  return undefined(env);
}

/* create() -> id: a socket to connect with. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  relay_t *relay;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&relay);
  side_t *s = side_new(relay);
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  s->known = 1;
  return number(env, side_id(s));
}

/* connect(handle, ip, port) -> status */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  ARGS(3)
  SIDE(0)
  char ip[64];
  size_t len;
  int32_t port;
  if (napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len) != napi_ok) return NULL;
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok) return NULL;
  if (!s->open) return number(env, UV_EBADF);
  struct sockaddr_storage address;
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&address) != 0 &&
      uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&address) != 0)
    return number(env, UV_EINVAL);
  /* No socket yet: libuv applies TCP_NODELAY when connect creates it. */
  uv_tcp_nodelay(&s->tcp, 1);
  int status = uv_tcp_connect(&s->creq, &s->tcp, (const struct sockaddr *)&address, on_connect);
  /* Ask for reads while connecting: libuv keeps the socket's one epoll registration (POLLOUT for the connect,
   * then POLLIN) instead of dropping it after the connect and adding it again for the first read. libuv
   * completes the connect before it reads, and on_connect stops reading again if JavaScript did not ask. */
  if (status == 0 && uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) == 0) s->active = 1;
  return number(env, status);
}

static napi_value js_read_start(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  s->want_read = 1;
  return number(env, update_reading(s));
}

static napi_value js_read_stop(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  s->want_read = 0;
  update_reading(s);
  return undefined(env);
}

/* write(handle, buffer, length) -> 0 written, 1 queued (a write callback follows), < 0 error. */
static napi_value js_write(napi_env env, napi_callback_info info) {
  ARGS(3)
  SIDE(0)
  void *data;
  size_t size;
  int64_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) return NULL;
  if (napi_get_value_int64(env, argv[2], &length) != napi_ok) return NULL;
  if (length < 0 || (size_t)length > size) length = (int64_t)size;
  if (!s->open) return number(env, UV_EBADF);
  uv_buf_t b = uv_buf_init(data, (unsigned)length);
  int written = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
  if (written == (int)length) {
    s->last_active = uv_now(relay->loop);
    return number(env, 0);
  }
  if (written < 0 && written != UV_EAGAIN) return number(env, written);
  if (written < 0) written = 0;
  size_t rest = (size_t)length - (size_t)written;
  js_write_t *w = malloc(sizeof *w + rest);
  if (w == NULL) return number(env, UV_ENOMEM);
  w->side = s;
  memcpy(w->data, (char *)data + written, rest);
  uv_buf_t copy = uv_buf_init(w->data, (unsigned)rest);
  int status = uv_write(&w->req, (uv_stream_t *)&s->tcp, &copy, 1, on_js_write);
  if (status != 0) {
    free(w);
    return number(env, status);
  }
  return number(env, 1);
}

/* shutdown(handle, now) -> 1 when the FIN went out right away (no callback follows), else a status and a
 * shutdown callback follows; libuv sends the FIN once the queued writes are out. `now`: JavaScript has no
 * write queued either, and wants no round trip. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  ARGS(2)
  SIDE(0)
  bool now = false;
  napi_get_value_bool(env, argv[1], &now);
  if (!s->open) return number(env, UV_EBADF);
  /* Sent already by a pipe since cut: done. In flight for a pipe since cut: JavaScript hears when it is done. */
  if (s->fin_sent) return number(env, 1);
  if (s->fin_piped) {
    s->fin_piped = 0;
    return number(env, 0);
  }
  /* Nothing queued: shutdown(2) at once. uv_shutdown would wait for a POLLOUT (two epoll_ctl) and call back
   * into JavaScript to say so. A pending piped write is still in the queue (it holds bytes). */
  uv_os_fd_t fd;
  if (now && s->pw_src == NULL && uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) == 0 &&
      uv_fileno((uv_handle_t *)&s->tcp, &fd) == 0 && shutdown(fd, SHUT_WR) == 0) {
    s->fin_sent = 1;
    return number(env, 1);
  }
  return number(env, uv_shutdown(&s->sreq, (uv_stream_t *)&s->tcp, on_shutdown));
}

/* close(handle) / reset(handle) -> bytes read by the socket over its life. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  side_close(s, false);
  return number(env, (double)s->bytes_read);
}

static napi_value js_reset(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  side_close(s, true);
  return number(env, (double)s->bytes_read);
}

/* pipe(a, b) -> status: from now on C relays both ways and ends the pair (pipeDone) unless JavaScript does
 * first. What a (the client) sent already is read and passed on right away. */
static napi_value js_pipe(napi_env env, napi_callback_info info) {
  ARGS(2)
  side_t *a = side_arg(relay, env, argv[0]);
  side_t *b = side_arg(relay, env, argv[1]);
  if (a == NULL || b == NULL || a == b) {
    napi_throw_type_error(env, NULL, "pipe: two endpoint handles");
    return NULL;
  }
  if (!a->open || !b->open) return number(env, UV_EBADF);
  a->peer = b;
  b->peer = a;
  a->want_read = 1;
  b->want_read = 1;
  int status = update_reading(b);
  if (status == 0) status = update_reading(a);
  if (status == 0) read_now(a);
  return number(env, status);
}

static napi_value js_bytes_read(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  return number(env, (double)s->bytes_read);
}

static napi_value js_idle(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  uint64_t now = uv_now(relay->loop);
  return number(env, now > s->last_active ? (double)(now - s->last_active) : 0);
}

static napi_value js_pending(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  if (!s->open) return number(env, 0);
  return number(env, (double)uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp));
}

static napi_value format_address(napi_env env, const struct sockaddr_storage *address) {
  char ip[INET6_ADDRSTRLEN];
  char text[INET6_ADDRSTRLEN + 16];
  if (address->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)address;
    uv_ip6_name(in6, ip, sizeof ip);
    snprintf(text, sizeof text, "[%s]:%d", ip, ntohs(in6->sin6_port));
  } else if (address->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)address;
    uv_ip4_name(in, ip, sizeof ip);
    snprintf(text, sizeof text, "%s:%d", ip, ntohs(in->sin_port));
  } else {
    return undefined(env);
  }
  napi_value out;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out);
  return out;
}

/* remoteAddress(handle) -> "ip:port" | "[ip]:port" | undefined */
static napi_value js_remote_address(napi_env env, napi_callback_info info) {
  ARGS(1)
  SIDE(0)
  struct sockaddr_storage address;
  int len = sizeof address;
  if (!s->open || uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&address, &len) != 0) return undefined(env);
  return format_address(env, &address);
}

/* listen(listener, ip, port, backlog) -> handle | status (< 0) */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  ARGS(4)
  char ip[64];
  size_t len;
  int32_t port, backlog;
  if (napi_get_value_string_utf8(env, argv[1], ip, sizeof ip, &len) != napi_ok) return NULL;
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok) return NULL;
  if (napi_get_value_int32(env, argv[3], &backlog) != napi_ok) return NULL;
  struct sockaddr_storage address;
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&address) != 0 &&
      uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&address) != 0)
    return number(env, UV_EINVAL);
  listener_t *l = calloc(1, sizeof *l);
  if (l == NULL) return number(env, UV_ENOMEM);
  l->relay = relay;
  l->tcp.data = l;
  int status = uv_tcp_init(relay->loop, &l->tcp);
  if (status != 0) {
    free(l);
    return number(env, status);
  }
  l->refs = 1;
  relay->handles++;
  status = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&address, 0);
  if (status == 0) status = uv_listen((uv_stream_t *)&l->tcp, backlog, on_connection);
  napi_value external;
  if (status == 0 && napi_create_external(env, l, finalize_listener, NULL, &external) != napi_ok) status = UV_ENOMEM;
  if (status != 0) {
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    return number(env, status);
  }
  l->refs++;
  l->open = 1;
  napi_create_reference(env, argv[0], 1, &l->js);
  return external;
}

/* listenerPort(handle) -> the bound port, -1 once closed. */
static napi_value js_listener_port(napi_env env, napi_callback_info info) {
  ARGS(1)
  listener_t *l = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&l) != napi_ok || l == NULL) return NULL;
  struct sockaddr_storage address;
  int len = sizeof address;
  if (!l->open || uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&address, &len) != 0) return number(env, -1);
  int port = address.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&address)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&address)->sin_port);
  return number(env, port);
}

static napi_value js_listener_close(napi_env env, napi_callback_info info) {
  ARGS(1)
  listener_t *l = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&l) != napi_ok || l == NULL) return NULL;
  if (!l->open) return undefined(env);
  l->open = 0;
  napi_delete_reference(env, l->js);
  l->js = NULL;
  uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
  return undefined(env);
}

/* stats() -> {sides, handles}: for leak checks. */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  relay_t *relay;
  napi_get_cb_info(env, info, NULL, NULL, NULL, (void **)&relay);
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "sides", number(env, relay->sides));
  napi_set_named_property(env, out, "handles", number(env, relay->handles));
  return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  relay_t *relay = calloc(1, sizeof *relay);
  if (relay == NULL) return NULL;
  relay->env = env;
  if (napi_get_uv_event_loop(env, &relay->loop) != napi_ok) {
    free(relay);
    return NULL;
  }
  /* Never freed: close callbacks of handles still open at teardown may run after the environment is gone. */
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
    {"setup", js_setup}, {"create", js_create}, {"connect", js_connect},
    {"readStart", js_read_start}, {"readStop", js_read_stop}, {"write", js_write}, {"shutdown", js_shutdown},
    {"close", js_close}, {"reset", js_reset}, {"pipe", js_pipe}, {"bytesRead", js_bytes_read},
    {"idle", js_idle}, {"pending", js_pending}, {"remoteAddress", js_remote_address}, {"listen", js_listen},
    {"listenerPort", js_listener_port}, {"listenerClose", js_listener_close}, {"stats", js_stats},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, relay, &fn);
    napi_set_named_property(env, exports, functions[i].name, fn);
  }
  return exports;
}
