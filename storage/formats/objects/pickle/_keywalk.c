/* The key-cost walk of storage/formats/objects/pickle/keys.py, compiled.
 *
 * Before the C unpickler loads a pickle (it hashes dict keys and set members in C and cannot be
 * interrupted), pickle_keys.costly_keys follows the opcodes with each stack entry's hash cost and
 * says whether any key would cost more than the budgets allow. That walk is pure Python and took
 * five times as long as the load itself; this is the same walk, step for step, over the caller's
 * buffer with the GIL released. tests/test_pickle_keys.py runs both on the same streams (hostile,
 * random and real) and requires the same answer.
 *
 * Every read is bounds-checked: the input is hostile. Anything this walk cannot follow (an unknown
 * opcode, a malformed argument, a memo index it does not hold, a stack underflow, no STOP) answers
 * "costly", which sends the file to the careful Python unpickler: slower, never less safe.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FREE_STEPS 64 /* keys this cheap are never charged (pickle_keys.FREE) */
#define CALL_COST 64  /* what a call's result may cost to hash (pickle_keys._CALL_COST) */

/* A stack entry is cost << 1 | open: "open" marks a value whose hash the file chooses (ints, floats,
 * calls' results, and tuples or frozensets holding one); strings and bytes hash at random. */
#define ENTRY(cost, open) ((int64_t)(cost) << 1 | (open))
#define COST(entry) ((entry) >> 1)
#define LEAF ENTRY(1, 0)
#define OPEN_LEAF ENTRY(1, 1)
#define CALL_ENTRY ENTRY(CALL_COST, 1)

enum { FITS = 0, COSTLY = 1, NO_MEMORY = 2 };

/* -- a growable stack of costs ---------------------------------------------------------------- */
typedef struct {
    int64_t *items;
    size_t len, cap;
} Stack;

static int stack_push(Stack *s, int64_t value) {
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int64_t *items = realloc(s->items, cap * sizeof(int64_t));
        if (!items) return NO_MEMORY;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->len++] = value;
    return FITS;
}

/* -- the memo: uint32 index -> cost ------------------------------------------------------------
 * Picklers number their memo entries 0, 1, 2, …, so most indices land in a dense array. An index far
 * beyond the entries made so far (only a crafted file writes those) goes to a hashed table, so no
 * index can make the walk allocate more than a few times what the file itself made. An index lives
 * in exactly one of the two: once in the hashed table, it stays there. */
typedef struct {
    uint32_t key;
    uint32_t used;
    int64_t value;
} Slot;

typedef struct {
    int64_t *dense;
    uint8_t *has;
    size_t dense_cap;
    Slot *slots;
    size_t sparse_count, sparse_cap; /* sparse_cap is a power of two */
    size_t count;                    /* distinct indices in both: MEMOIZE's next index */
} Memo;

static size_t memo_slot(const Slot *slots, size_t cap, uint32_t key) {
    size_t i = ((size_t)key * 2654435761u) & (cap - 1);
    while (slots[i].used && slots[i].key != key) i = (i + 1) & (cap - 1);
    return i;
}

static Slot *sparse_find(const Memo *m, uint32_t key) {
    if (!m->sparse_cap) return NULL;
    Slot *slot = &m->slots[memo_slot(m->slots, m->sparse_cap, key)];
    return slot->used ? slot : NULL;
}

static int sparse_put(Memo *m, uint32_t key, int64_t value) {
    if ((m->sparse_count + 1) * 2 > m->sparse_cap) {
        size_t cap = m->sparse_cap ? m->sparse_cap * 2 : 64;
        Slot *slots = calloc(cap, sizeof(Slot));
        if (!slots) return NO_MEMORY;
        for (size_t i = 0; i < m->sparse_cap; i++)
            if (m->slots[i].used) slots[memo_slot(slots, cap, m->slots[i].key)] = m->slots[i];
        free(m->slots);
        m->slots = slots;
        m->sparse_cap = cap;
    }
    Slot *slot = &m->slots[memo_slot(m->slots, m->sparse_cap, key)];
    if (!slot->used) {
        slot->used = 1;
        slot->key = key;
        m->sparse_count++;
        m->count++;
    }
    slot->value = value;
    return FITS;
}

/* Make the dense array reach ``key`` when the key is near the entries made so far. */
static int dense_reach(Memo *m, uint32_t key) {
    if (key < m->dense_cap) return FITS;
    if ((uint64_t)key >= 4 * ((uint64_t)m->count + 1024)) return COSTLY; /* far: the hashed table */
    size_t cap = m->dense_cap ? m->dense_cap : 1024;
    while (cap <= key) cap *= 2;
    int64_t *dense = realloc(m->dense, cap * sizeof(int64_t));
    if (!dense) return NO_MEMORY;
    m->dense = dense;
    uint8_t *has = realloc(m->has, cap);
    if (!has) return NO_MEMORY;
    memset(has + m->dense_cap, 0, cap - m->dense_cap);
    m->has = has;
    m->dense_cap = cap;
    return FITS;
}

static int memo_put(Memo *m, uint32_t key, int64_t value) {
    if (key < m->dense_cap && m->has[key]) {
        m->dense[key] = value;
        return FITS;
    }
    Slot *slot = sparse_find(m, key);
    if (slot) {
        slot->value = value;
        return FITS;
    }
    int reach = dense_reach(m, key);
    if (reach == NO_MEMORY) return NO_MEMORY;
    if (reach == COSTLY) return sparse_put(m, key, value);
    m->has[key] = 1;
    m->dense[key] = value;
    m->count++;
    return FITS;
}

static int memo_get(const Memo *m, uint32_t key, int64_t *value) {
    if (key < m->dense_cap && m->has[key]) {
        *value = m->dense[key];
        return FITS;
    }
    const Slot *slot = sparse_find(m, key);
    if (!slot) return COSTLY; /* KeyError in the Python walk */
    *value = slot->value;
    return FITS;
}

static void memo_free(Memo *m) {
    free(m->dense);
    free(m->has);
    free(m->slots);
}

/* -- the walk ------------------------------------------------------------------------------- */
typedef struct {
    Stack stack;  /* every entry since the start; marks split it into segments */
    Stack marks;  /* where each open segment starts */
    size_t base;  /* where the current segment starts */
    Memo memo;
    int64_t left, per_key, cap;
    int64_t open_left; /* open keys still allowed (pickle_keys.OPEN_KEYS) */
} Walk;

/* Charge one key's hash steps; COSTLY when it is over a budget, or one open key too many. */
static int charge(Walk *w, int64_t entry) {
    int64_t steps = COST(entry);
    if ((entry & 1) && --w->open_left < 0) return COSTLY;
    if (steps > FREE_STEPS) {
        if (steps > w->per_key || steps > w->left) return COSTLY;
        w->left -= steps;
    }
    return FITS;
}

static int64_t capped(const Walk *w, int64_t value) { return value < w->cap ? value : w->cap; }

/* The entry of a tuple of the ``n`` entries at ``items``. */
static int64_t tuple_entry(const Walk *w, const int64_t *items, size_t n) {
    int64_t cost = 1, open = 0;
    for (size_t i = 0; i < n; i++) {
        open |= items[i] & 1;
        if (cost < w->cap) cost += COST(items[i]);
    }
    return ENTRY(capped(w, cost), open);
}

#define SEGMENT(w) ((w)->stack.len - (w)->base)
#define TOP(w) ((w)->stack.items[(w)->stack.len - 1])
#define NEED(w, n)                                                                                   \
    do {                                                                                             \
        if (SEGMENT(w) < (size_t)(n)) return COSTLY;                                                 \
    } while (0)
#define PUSH(w, v)                                                                                   \
    do {                                                                                             \
        if (stack_push(&(w)->stack, (v)) != FITS) return NO_MEMORY;                                  \
    } while (0)
#define MEMO_PUT(w, k, v)                                                                            \
    do {                                                                                             \
        if (memo_put(&(w)->memo, (k), (v)) != FITS) return NO_MEMORY;                                \
    } while (0)

static int open_mark(Walk *w) {
    if (stack_push(&w->marks, (int64_t)w->base) != FITS) return NO_MEMORY;
    w->base = w->stack.len;
    return FITS;
}

/* Close the current segment (its items stay readable at items[from, len)) and go back to the
 * segment under the last mark. */
static int close_mark(Walk *w, size_t *from) {
    if (!w->marks.len) return COSTLY;
    *from = w->base;
    w->base = (size_t)w->marks.items[--w->marks.len];
    return FITS;
}

static uint32_t read_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A decimal memo index of a text GET/PUT line; COSTLY for anything but plain digits < 2**32. */
static int line_index(const unsigned char *p, size_t n, uint32_t *index) {
    uint64_t value = 0;
    if (!n) return COSTLY;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return COSTLY;
        value = value * 10 + (uint64_t)(p[i] - '0');
        if (value > 0xFFFFFFFFu) return COSTLY;
    }
    *index = (uint32_t)value;
    return FITS;
}

static int walk(Walk *w, const unsigned char *data, size_t pos, size_t end) {
    while (pos < end) {
        unsigned char code = data[pos++];
        size_t from, width;
        int64_t value;
        uint64_t length;
        switch (code) {
        /* leaves: None, True, False, [], (), {}, set(), NEXT_BUFFER */
        case 'N': case 0x88: case 0x89: case ']': case ')': case '}': case 0x8F: case 0x97:
            PUSH(w, LEAF);
            break;
        /* one-byte lengths: SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES, LONG1 */
        case 0x8C: case 'U': case 'C': case 0x8A:
            if (pos >= end) return COSTLY;
            pos += 1 + (size_t)data[pos];
            PUSH(w, code == 0x8A ? OPEN_LEAF : LEAF); /* LONG1: an int of any hash */
            break;
        /* counted: BINSTRING, LONG4 (signed 4); BINBYTES, BINUNICODE (4); BINBYTES8, BYTEARRAY8,
         * BINUNICODE8 (8) */
        case 'T': case 0x8B: case 'B': case 'X': case 0x8E: case 0x96: case 0x8D:
            width = (code == 0x8E || code == 0x96 || code == 0x8D) ? 8 : 4;
            if (end - pos < width) return COSTLY;
            if (width == 4) {
                uint32_t raw = read_u32(data + pos);
                if ((code == 'T' || code == 0x8B) && (raw & 0x80000000u)) return COSTLY; /* < 0 */
                length = raw;
            } else {
                length = (uint64_t)read_u32(data + pos) | (uint64_t)read_u32(data + pos + 4) << 32;
            }
            pos += width;
            if (length > end - pos) return COSTLY; /* runs past the end: no STOP can follow */
            pos += (size_t)length;
            PUSH(w, code == 0x8B ? ENTRY(1 + (int64_t)(length >> 8), 1) : LEAF);
            break;
        /* fixed widths: BININT, BININT1, BININT2, BINFLOAT, EXT1, EXT2, EXT4 push; PROTO, FRAME do not */
        case 'J': case 'K': case 'M': case 'G': case 0x82: case 0x83: case 0x84: case 0x80: case 0x95:
            width = code == 'J' || code == 0x84 ? 4 : code == 'M' || code == 0x83 ? 2
                  : code == 'G' || code == 0x95 ? 8 : 1;
            if (end - pos < width) return COSTLY;
            pos += width;
            /* BININT, BININT1, BININT2: 32-bit ints hash to themselves; floats and EXTs: open */
            if (code != 0x80 && code != 0x95) PUSH(w, code == 'J' || code == 'K' || code == 'M' ? LEAF : OPEN_LEAF);
            break;
        case 0x94: /* MEMOIZE */
            NEED(w, 1);
            if (w->memo.count > 0xFFFFFFFFu) return COSTLY;
            MEMO_PUT(w, (uint32_t)w->memo.count, TOP(w));
            break;
        case 'q': case 'r': /* BINPUT, LONG_BINPUT */
            width = code == 'q' ? 1 : 4;
            if (end - pos < width) return COSTLY;
            NEED(w, 1);
            MEMO_PUT(w, width == 1 ? data[pos] : read_u32(data + pos), TOP(w));
            pos += width;
            break;
        case 'h': case 'j': /* BINGET, LONG_BINGET */
            width = code == 'h' ? 1 : 4;
            if (end - pos < width) return COSTLY;
            if (memo_get(&w->memo, width == 1 ? data[pos] : read_u32(data + pos), &value) != FITS)
                return COSTLY;
            pos += width;
            PUSH(w, value);
            break;
        case '(': /* MARK */
            if (open_mark(w) != FITS) return NO_MEMORY;
            break;
        case 'u': case 'd': /* SETITEMS, DICT: the keys are hashed */
            if (close_mark(w, &from) != FITS) return COSTLY;
            for (size_t i = from; i < w->stack.len; i += 2)
                if (charge(w, w->stack.items[i]) != FITS) return COSTLY;
            w->stack.len = from;
            if (code == 'd') PUSH(w, LEAF);
            break;
        case 0x90: case 0x91: /* ADDITEMS, FROZENSET: every member is hashed */
            if (close_mark(w, &from) != FITS) return COSTLY;
            for (size_t i = from; i < w->stack.len; i++)
                if (charge(w, w->stack.items[i]) != FITS) return COSTLY;
            length = w->stack.len - from;
            value = 0;
            for (size_t i = from; i < w->stack.len; i++) value |= w->stack.items[i] & 1;
            w->stack.len = from;
            if (code == 0x91) PUSH(w, ENTRY(capped(w, 1 + (int64_t)length), value));
            break;
        case 't': /* TUPLE */
            if (close_mark(w, &from) != FITS) return COSTLY;
            value = tuple_entry(w, w->stack.items + from, w->stack.len - from);
            w->stack.len = from;
            PUSH(w, value);
            break;
        case 'e': case 'l': case '1': /* APPENDS, LIST, POP_MARK */
            if (close_mark(w, &from) != FITS) return COSTLY;
            w->stack.len = from;
            if (code == 'l') PUSH(w, LEAF);
            break;
        case 'o': /* OBJ */
            if (close_mark(w, &from) != FITS) return COSTLY;
            w->stack.len = from;
            PUSH(w, CALL_ENTRY);
            break;
        case 0x85: /* TUPLE1 */
            NEED(w, 1);
            TOP(w) = tuple_entry(w, &TOP(w), 1);
            break;
        case 0x86: /* TUPLE2 */
            NEED(w, 2);
            w->stack.len--;
            TOP(w) = tuple_entry(w, &TOP(w), 2);
            break;
        case 0x87: /* TUPLE3 */
            NEED(w, 3);
            w->stack.len -= 2;
            TOP(w) = tuple_entry(w, &TOP(w), 3);
            break;
        case 'a': case 'b': /* APPEND, BUILD */
            NEED(w, 1);
            w->stack.len--;
            break;
        case 's': /* SETITEM */
            NEED(w, 2);
            value = w->stack.items[w->stack.len - 2];
            w->stack.len -= 2;
            if (charge(w, value) != FITS) return COSTLY;
            break;
        case 'R': case 0x81: case 0x93: /* REDUCE, NEWOBJ, STACK_GLOBAL: two in, one out */
            NEED(w, 2);
            w->stack.len--;
            TOP(w) = CALL_ENTRY;
            break;
        case 0x92: /* NEWOBJ_EX: three in, one out */
            NEED(w, 3);
            w->stack.len -= 2;
            TOP(w) = CALL_ENTRY;
            break;
        case 'Q': case 0x98: /* BINPERSID, READONLY_BUFFER: one in, one out */
            NEED(w, 1);
            TOP(w) = OPEN_LEAF;
            break;
        case '2': /* DUP */
            NEED(w, 1);
            PUSH(w, TOP(w));
            break;
        case '0': /* POP (of a mark when the segment is empty) */
            if (SEGMENT(w)) w->stack.len--;
            else if (close_mark(w, &from) != FITS) return COSTLY;
            break;
        case '.': /* STOP */
            return FITS;
        /* text lines: INT, FLOAT, LONG, STRING, UNICODE, PERSID, GET, PUT, GLOBAL, INST */
        case 'I': case 'F': case 'L': case 'S': case 'V': case 'P': case 'g': case 'p': case 'c': case 'i': {
            const unsigned char *nl = memchr(data + pos, '\n', end - pos);
            uint32_t index;
            if (!nl) return COSTLY;
            length = (uint64_t)(nl - (data + pos));
            if (code == 'g' || code == 'p') {
                if (line_index(data + pos, (size_t)length, &index) != FITS) return COSTLY;
            }
            from = pos;
            pos = (size_t)(nl - data) + 1;
            if (code == 'g') {
                if (memo_get(&w->memo, index, &value) != FITS) return COSTLY;
                PUSH(w, value);
            } else if (code == 'p') {
                NEED(w, 1);
                MEMO_PUT(w, index, TOP(w));
            } else if (code == 'c' || code == 'i') {
                nl = memchr(data + pos, '\n', end - pos);
                if (!nl) return COSTLY;
                pos = (size_t)(nl - data) + 1;
                if (code == 'i') {
                    if (close_mark(w, &from) != FITS) return COSTLY;
                    w->stack.len = from;
                }
                PUSH(w, code == 'i' ? CALL_ENTRY : OPEN_LEAF);
            } else { /* INT, FLOAT, LONG and PERSID are open; STRING and UNICODE hash at random */
                PUSH(w, ENTRY(1 + (int64_t)(length >> 8), code != 'S' && code != 'V'));
            }
            break;
        }
        default:
            return COSTLY; /* an opcode the walk does not know: let the careful path judge */
        }
    }
    return COSTLY; /* no STOP: the careful path reports where the stream breaks */
}

static PyObject *costly_keys(PyObject *self, PyObject *args) {
    Py_buffer buffer;
    Py_ssize_t start;
    long long budget, per_key, open_limit = 4096;
    int answer;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nLL|L", &buffer, &start, &budget, &per_key, &open_limit)) return NULL;
    if (start < 0 || start > buffer.len || budget < 0 || per_key < 0 || per_key >= INT64_MAX / 4) {
        PyBuffer_Release(&buffer);
        PyErr_SetString(PyExc_ValueError, "start, budget or per_key out of range");
        return NULL;
    }
    Walk w = {{0}, {0}, 0, {0}, budget, per_key, per_key + 1, open_limit};
    Py_BEGIN_ALLOW_THREADS
    answer = walk(&w, (const unsigned char *)buffer.buf, (size_t)start, (size_t)buffer.len);
    Py_END_ALLOW_THREADS
    free(w.stack.items);
    free(w.marks.items);
    memo_free(&w.memo);
    PyBuffer_Release(&buffer);
    if (answer == NO_MEMORY) return PyErr_NoMemory();
    return PyBool_FromLong(answer == COSTLY);
}

/* -- the plain-data census ----------------------------------------------------------------------
 * The first look at a pickle (storage/formats/objects/first.py) shows a verdict before the full safe
 * load. "Only plain data" may be said then only when the load will surely end the same way: every
 * opcode builds None, a bool, a number, a string, bytes or a container of them (no import, no
 * call, no persistent ID, no extension code, no Python 2 string); every string is UTF-8 as the C
 * unpickler decodes it (surrogatepass); every dict key and set member is hashable; every
 * APPEND/SETITEM/ADDITEM goes to a container of the right kind; every memo index was made before it
 * is read; and the stream ends at a STOP. Anything else answers None ("cannot vouch"), never a guess.
 * The entries are a kind (low 4 bits) and a container number, so the root's item count is known. */
enum { K_SCALAR = 0, K_LIST, K_DICT, K_SET, K_FROZENSET, K_TUPLE_H, K_TUPLE_U };
#define KIND(e) ((int)((e) & 15))
#define HASHABLE(e) (KIND(e) == K_SCALAR || KIND(e) == K_FROZENSET || KIND(e) == K_TUPLE_H)
#define UNSURE 1

typedef struct {
    Stack stack, marks, counts, memo;
    size_t base;
} Census;

static int utf8_ok(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xF0) == 0xE0 && n - i > 2 && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80
            && (c != 0xE0 || s[i + 1] >= 0xA0)) { /* the common 3-byte case, not overlong */
            i += 3;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i - 1 < need) return 0;
        for (size_t k = 1; k <= need; k++) {
            unsigned char d = s[i + k];
            if ((d & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (d & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF) return 0; /* surrogates pass, as pickle decodes them */
        i += need + 1;
    }
    return 1;
}

/* A new container of ``kind`` holding ``items`` entries. */
static int census_new(Census *c, int kind, int64_t items, int64_t *entry) {
    if (stack_push(&c->counts, items) != FITS) return NO_MEMORY;
    *entry = (int64_t)(c->counts.len - 1) << 4 | kind;
    return FITS;
}

#define C_SEGMENT(c) ((c)->stack.len - (c)->base)
#define C_NEED(c, n)                                                                                 \
    do {                                                                                             \
        if (C_SEGMENT(c) < (size_t)(n)) return UNSURE;                                               \
    } while (0)
#define C_PUSH(c, v)                                                                                 \
    do {                                                                                             \
        if (stack_push(&(c)->stack, (v)) != FITS) return NO_MEMORY;                                  \
    } while (0)
#define C_NEW(c, kind, items)                                                                        \
    do {                                                                                             \
        int64_t made_;                                                                               \
        if (census_new((c), (kind), (items), &made_) != FITS) return NO_MEMORY;                      \
        C_PUSH((c), made_);                                                                          \
    } while (0)

static int census_close(Census *c, size_t *from) {
    if (!c->marks.len) return UNSURE;
    *from = c->base;
    c->base = (size_t)c->marks.items[--c->marks.len];
    return FITS;
}

/* The items at [from, len) go into the container just under them, which must be of ``kind``. */
static int census_fill(Census *c, size_t from, int kind, int64_t added) {
    if (from <= c->base) return UNSURE; /* no container under the items in this segment */
    int64_t target = c->stack.items[from - 1];
    if (c->stack.len > from && KIND(target) != kind) return UNSURE;
    if (KIND(target) == kind) c->counts.items[target >> 4] += added;
    c->stack.len = from;
    return FITS;
}

static int census_walk(Census *c, const unsigned char *data, size_t pos, size_t end, size_t *stop) {
    size_t frame_end = 0; /* where the current frame ends (0: outside any) */
    while (pos < end) {
        size_t op_start = pos;
        unsigned char code = data[pos++];
        size_t from, width;
        uint64_t length;
        uint32_t index;
        int64_t value = 0;
        switch (code) {
        case 0x80: /* PROTO: the C unpickler refuses one it does not know */
            if (pos >= end || data[pos] > 5) return UNSURE;
            pos++;
            break;
        case 0x95: /* FRAME: whole, and not inside another (the C unpickler would skip bytes) */
            if (end - pos < 8 || op_start < frame_end) return UNSURE;
            length = (uint64_t)read_u32(data + pos) | (uint64_t)read_u32(data + pos + 4) << 32;
            pos += 8;
            if (length > end - pos) return UNSURE;
            frame_end = pos + (size_t)length;
            break;
        case 'N': case 0x88: case 0x89:
            C_PUSH(c, K_SCALAR);
            break;
        case ']': C_NEW(c, K_LIST, 0); break;
        case '}': C_NEW(c, K_DICT, 0); break;
        case 0x8F: C_NEW(c, K_SET, 0); break;
        case ')': C_NEW(c, K_TUPLE_H, 0); break;
        case 'J': case 'K': case 'M': case 'G':
            width = code == 'J' ? 4 : code == 'K' ? 1 : code == 'M' ? 2 : 8;
            if (end - pos < width) return UNSURE;
            pos += width;
            C_PUSH(c, K_SCALAR);
            break;
        case 0x8C: case 'C': case 0x8A: /* SHORT_BINUNICODE, SHORT_BINBYTES, LONG1 */
            if (pos >= end) return UNSURE;
            length = data[pos++];
            if (length > end - pos) return UNSURE;
            if (code == 0x8C && !utf8_ok(data + pos, (size_t)length)) return UNSURE;
            pos += (size_t)length;
            C_PUSH(c, K_SCALAR);
            break;
        case 'X': case 'B': case 0x8B: case 0x8D: case 0x8E: /* BYTEARRAY8 left to the load */
            width = (code == 0x8D || code == 0x8E) ? 8 : 4;
            if (end - pos < width) return UNSURE;
            if (width == 4) {
                length = read_u32(data + pos);
                if (code == 0x8B && (length & 0x80000000u)) return UNSURE; /* LONG4 < 0 */
            } else {
                length = (uint64_t)read_u32(data + pos) | (uint64_t)read_u32(data + pos + 4) << 32;
            }
            pos += width;
            if (length > end - pos) return UNSURE;
            if ((code == 'X' || code == 0x8D) && !utf8_ok(data + pos, (size_t)length)) return UNSURE;
            pos += (size_t)length;
            C_PUSH(c, K_SCALAR);
            break;
        case 0x94: /* MEMOIZE */
            C_NEED(c, 1);
            if (stack_push(&c->memo, c->stack.items[c->stack.len - 1]) != FITS) return NO_MEMORY;
            break;
        case 'q': case 'r': /* BINPUT, LONG_BINPUT: only the next index, or one made before */
            width = code == 'q' ? 1 : 4;
            if (end - pos < width) return UNSURE;
            C_NEED(c, 1);
            index = width == 1 ? data[pos] : read_u32(data + pos);
            pos += width;
            if (index < c->memo.len) c->memo.items[index] = c->stack.items[c->stack.len - 1];
            else if (index == c->memo.len) {
                if (stack_push(&c->memo, c->stack.items[c->stack.len - 1]) != FITS) return NO_MEMORY;
            } else return UNSURE;
            break;
        case 'h': case 'j': /* BINGET, LONG_BINGET */
            width = code == 'h' ? 1 : 4;
            if (end - pos < width) return UNSURE;
            index = width == 1 ? data[pos] : read_u32(data + pos);
            pos += width;
            if (index >= c->memo.len) return UNSURE;
            C_PUSH(c, c->memo.items[index]);
            break;
        case '(': /* MARK */
            if (stack_push(&c->marks, (int64_t)c->base) != FITS) return NO_MEMORY;
            c->base = c->stack.len;
            break;
        case 'l': case 't': case 'd': case 0x91: /* LIST, TUPLE, DICT, FROZENSET */
            if (census_close(c, &from) != FITS) return UNSURE;
            length = c->stack.len - from;
            if (code == 'd') {
                if (length % 2) return UNSURE;
                for (size_t i = from; i < c->stack.len; i += 2)
                    if (!HASHABLE(c->stack.items[i])) return UNSURE;
                length /= 2;
            }
            if (code == 't') {
                value = K_TUPLE_H;
                for (size_t i = from; i < c->stack.len; i++)
                    if (!HASHABLE(c->stack.items[i])) value = K_TUPLE_U;
            }
            if (code == 0x91)
                for (size_t i = from; i < c->stack.len; i++)
                    if (!HASHABLE(c->stack.items[i])) return UNSURE;
            c->stack.len = from;
            C_NEW(c, code == 'l' ? K_LIST : code == 'd' ? K_DICT : code == 't' ? (int)value : K_FROZENSET,
                  (int64_t)length);
            break;
        case 0x85: case 0x86: case 0x87: /* TUPLE1, TUPLE2, TUPLE3 */
            width = (size_t)(code - 0x84);
            C_NEED(c, width);
            value = K_TUPLE_H;
            for (size_t i = c->stack.len - width; i < c->stack.len; i++)
                if (!HASHABLE(c->stack.items[i])) value = K_TUPLE_U;
            c->stack.len -= width;
            C_NEW(c, (int)value, (int64_t)width);
            break;
        case 'u': case 'e': case 0x90: /* SETITEMS, APPENDS, ADDITEMS */
            if (census_close(c, &from) != FITS) return UNSURE;
            length = c->stack.len - from;
            if (code == 'u') {
                if (length % 2) return UNSURE;
                for (size_t i = from; i < c->stack.len; i += 2)
                    if (!HASHABLE(c->stack.items[i])) return UNSURE;
                length /= 2;
            }
            if (code == 0x90)
                for (size_t i = from; i < c->stack.len; i++)
                    if (!HASHABLE(c->stack.items[i])) return UNSURE;
            if (census_fill(c, from, code == 'u' ? K_DICT : code == 'e' ? K_LIST : K_SET,
                            (int64_t)length) != FITS) return UNSURE;
            break;
        case 's': /* SETITEM */
            C_NEED(c, 3);
            if (!HASHABLE(c->stack.items[c->stack.len - 2])) return UNSURE;
            if (census_fill(c, c->stack.len - 2, K_DICT, 1) != FITS) return UNSURE;
            break;
        case 'a': /* APPEND */
            C_NEED(c, 2);
            if (census_fill(c, c->stack.len - 1, K_LIST, 1) != FITS) return UNSURE;
            break;
        case '0': /* POP (of a mark when the segment is empty) */
            if (C_SEGMENT(c)) c->stack.len--;
            else if (census_close(c, &from) != FITS) return UNSURE;
            break;
        case '1': /* POP_MARK */
            if (census_close(c, &from) != FITS) return UNSURE;
            c->stack.len = from;
            break;
        case '2': /* DUP */
            C_NEED(c, 1);
            C_PUSH(c, c->stack.items[c->stack.len - 1]);
            break;
        case '.': /* STOP */
            C_NEED(c, 1);
            *stop = pos;
            return FITS;
        default:
            return UNSURE; /* an import, a call, a Python 2 string, a text opcode: the load decides */
        }
        /* An opcode that starts inside a frame and ends past it: the C unpickler drops the frame's
         * last bytes and reads the rest from the file, a different stream than this walk's. */
        if (op_start < frame_end && pos > frame_end) return UNSURE;
    }
    return UNSURE;
}

static const char *const KIND_NAMES[] = {"scalar", "list", "dict", "set", "frozenset", "tuple", "tuple"};

static PyObject *plain_census(PyObject *self, PyObject *args) {
    Py_buffer buffer;
    Py_ssize_t start;
    size_t stop = 0;
    int answer;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*n", &buffer, &start)) return NULL;
    if (start < 0 || start > buffer.len) {
        PyBuffer_Release(&buffer);
        PyErr_SetString(PyExc_ValueError, "start out of range");
        return NULL;
    }
    Census c = {{0}, {0}, {0}, {0}, 0};
    Py_BEGIN_ALLOW_THREADS
    answer = census_walk(&c, (const unsigned char *)buffer.buf, (size_t)start, (size_t)buffer.len, &stop);
    Py_END_ALLOW_THREADS
    PyObject *out;
    if (answer == NO_MEMORY) {
        out = PyErr_NoMemory();
    } else if (answer != FITS) {
        out = Py_NewRef(Py_None);
    } else {
        int64_t root = c.stack.items[c.stack.len - 1];
        long long items = KIND(root) == K_SCALAR ? 0 : (long long)c.counts.items[root >> 4];
        out = Py_BuildValue("(nsL)", (Py_ssize_t)stop, KIND_NAMES[KIND(root)], items);
    }
    free(c.stack.items);
    free(c.marks.items);
    free(c.counts.items);
    free(c.memo.items);
    PyBuffer_Release(&buffer);
    return out;
}

static PyMethodDef methods[] = {
    {"costly_keys", costly_keys, METH_VARARGS,
     "costly_keys(data, start, budget, per_key, open_limit=4096) -> bool: the compiled pickle_keys walk."},
    {"plain_census", plain_census, METH_VARARGS,
     "plain_census(data, start) -> (stop, root kind, root items) when the pickle at start is surely plain "
     "data that loads, else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "storage.formats.objects.pickle._keywalk",
                                    "The key-cost walk of storage.formats.objects.pickle.keys, compiled.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__keywalk(void) { return PyModule_Create(&module); }
