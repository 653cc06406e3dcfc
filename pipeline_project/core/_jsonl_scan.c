/* One pass over a block of JSON lines: the lines that are provably flat objects of simple values,
 * and the named fields of those lines as Arrow string columns, exactly as json.loads (numbers as
 * their literal text) and str.strip() give them. Everything this scanner is not sure of, it
 * leaves to the exact path (jsonl_blocks.json_values) by marking the line not simple.
 *
 * A simple line: optional whitespace, `{`, zero or more `"key": value` pairs separated by `,`, `}`,
 * optional whitespace; whitespace is JSON's (space, tab, CR: a line holds no newline). A key holds
 * no escape. A value is a string (its escapes valid and no lone surrogate, which Arrow cannot
 * hold), a number matching JSON's grammar (kept as its text), true, false or null (a null field).
 * No control byte may sit in a string: json.loads refuses it. The last duplicate key wins, as in a
 * dict. Bytes are valid UTF-8 already (the reader checks the block first).
 *
 * The input is immutable bytes and every output is owned here until returned, so the scan runs
 * without the GIL and two blocks parse on two threads at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_FIELDS 16

typedef const unsigned char *cursor;

enum { ABSENT, PLAIN, ESCAPED };

typedef struct {
    cursor start, stop; /* PLAIN: the text; ESCAPED: a string's content between its quotes */
    int kind;
} Slot;

/* A field's Arrow buffers, each a bytes object written in place, then shrunk to its size. */
typedef struct {
    const char *name;
    Py_ssize_t length;
    PyObject *chars_bytes, *offsets_bytes, *valid_bytes;
    char *chars;
    int32_t *offsets;
    uint8_t *valid;
    Py_ssize_t used, nulls;
} Column;

static inline cursor skip_space(cursor p, cursor end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    return p;
}

static inline int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static inline long hex4(cursor p) {
    long value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(p[i]);
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

/* The bytes that end a run of plain string content: a quote, a backslash, a control byte. */
static unsigned char STRING_STOP[256];

/* The closing quote of the string whose content starts at p, or NULL when the string is one this
 * scanner leaves to json.loads (a control byte, an invalid escape, a lone surrogate, no end). */
static cursor scan_string(cursor p, cursor end, int *escaped) {
    *escaped = 0;
    for (;;) {
        while (p < end && !STRING_STOP[*p]) p++;
        if (p >= end) return NULL;
        unsigned char c = *p;
        if (c == '"') return p;
        if (c < 0x20) return NULL;
        *escaped = 1;
        if (++p >= end) return NULL;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p++;
            break;
        case 'u': {
            if (end - p < 5) return NULL;
            long unit = hex4(p + 1);
            if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return NULL;
            p += 5;
            if (unit >= 0xD800 && unit <= 0xDBFF) { /* a pair, or a lone surrogate */
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return NULL;
                long low = hex4(p + 2);
                if (low < 0xDC00 || low > 0xDFFF) return NULL;
                p += 6;
            }
            break;
        }
        default:
            return NULL;
        }
    }
}

/* The end of a JSON number literal starting at p, or NULL. */
static cursor scan_number(cursor p, cursor end) {
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        if (++p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    return p;
}

static inline cursor scan_word(cursor p, cursor end, const char *word, Py_ssize_t length) {
    return end - p >= length && memcmp(p, word, length) == 0 ? p + length : NULL;
}

/* Keys are short: a loop the compiler inlines beats a call to memcmp. */
static inline int same_bytes(const char *name, cursor key, Py_ssize_t length) {
    for (Py_ssize_t i = 0; i < length; i++) {
        if ((unsigned char)name[i] != key[i]) return 0;
    }
    return 1;
}

/* Fills slots from the line [p, end); 1 when the line is simple. */
static int scan_line(cursor p, cursor end, Column *columns, int fields, Slot *slots) {
    for (int f = 0; f < fields; f++) slots[f].kind = ABSENT;
    p = skip_space(p, end);
    if (p >= end || *p != '{') return 0;
    p = skip_space(p + 1, end);
    if (p < end && *p == '}') return skip_space(p + 1, end) == end;
    for (;;) {
        int escaped;
        if (p >= end || *p != '"') return 0;
        cursor key = p + 1, key_end = scan_string(key, end, &escaped);
        if (key_end == NULL || escaped) return 0;
        p = skip_space(key_end + 1, end);
        if (p >= end || *p != ':') return 0;
        p = skip_space(p + 1, end);
        if (p >= end) return 0;
        Slot value = {p, NULL, PLAIN};
        if (*p == '"') {
            value.start = p + 1;
            value.stop = scan_string(value.start, end, &escaped);
            if (value.stop == NULL) return 0;
            value.kind = escaped ? ESCAPED : PLAIN;
            p = value.stop + 1;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            p = value.stop = scan_number(p, end);
        } else if (*p == 't') {
            p = value.stop = scan_word(p, end, "true", 4);
        } else if (*p == 'f') {
            p = value.stop = scan_word(p, end, "false", 5);
        } else if (*p == 'n') {
            p = scan_word(p, end, "null", 4);
            value.kind = ABSENT;
        } else {
            return 0;
        }
        if (p == NULL) return 0;
        Py_ssize_t key_length = key_end - key;
        for (int f = 0; f < fields; f++) {
            if (columns[f].length == key_length && same_bytes(columns[f].name, key, key_length)) {
                slots[f] = value;
                break;
            }
        }
        p = skip_space(p, end);
        if (p >= end) return 0;
        if (*p == '}') return skip_space(p + 1, end) == end;
        if (*p != ',') return 0;
        p = skip_space(p + 1, end);
    }
}

/* The length of the whitespace character (as str.isspace() holds) starting at p, or 0. */
static inline int space_at(cursor p, cursor end) {
    unsigned char c = p[0];
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    if (c == 0xC2) return end - p >= 2 && (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (end - p < 3) return 0;
    if (c == 0xE1) return p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
    if (c == 0xE2) {
        if (p[1] == 0x80) return p[2] <= 0x8A || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF ? 3 : 0;
        return p[1] == 0x81 && p[2] == 0x9F ? 3 : 0;
    }
    return c == 0xE3 && p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
}

/* The length of the whitespace character ending at p (after start), or 0. In valid UTF-8 a lead
 * byte found 2 or 3 bytes back starts a character, so the patterns cannot match mid-character. */
static inline int space_before(cursor start, cursor p) {
    unsigned char c = p[-1];
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
    if (p - start >= 2 && p[-2] == 0xC2) return c == 0x85 || c == 0xA0 ? 2 : 0;
    if (p - start >= 3 && (p[-3] == 0xE1 || p[-3] == 0xE2 || p[-3] == 0xE3)) return space_at(p - 3, p) ? 3 : 0;
    return 0;
}

static inline char *put_utf8(char *out, long point) {
    if (point < 0x80) {
        *out++ = (char)point;
    } else if (point < 0x800) {
        *out++ = (char)(0xC0 | (point >> 6));
        *out++ = (char)(0x80 | (point & 0x3F));
    } else if (point < 0x10000) {
        *out++ = (char)(0xE0 | (point >> 12));
        *out++ = (char)(0x80 | ((point >> 6) & 0x3F));
        *out++ = (char)(0x80 | (point & 0x3F));
    } else {
        *out++ = (char)(0xF0 | (point >> 18));
        *out++ = (char)(0x80 | ((point >> 12) & 0x3F));
        *out++ = (char)(0x80 | ((point >> 6) & 0x3F));
        *out++ = (char)(0x80 | (point & 0x3F));
    }
    return out;
}

/* A string's content, its escapes checked by scan_string, decoded into out; returns the end. */
static char *unescape(cursor p, cursor end, char *out) {
    while (p < end) {
        if (*p != '\\') {
            *out++ = (char)*p++;
            continue;
        }
        unsigned char c = p[1];
        p += 2;
        switch (c) {
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        case 't': *out++ = '\t'; break;
        case 'u': {
            long point = hex4(p);
            p += 4;
            if (point >= 0xD800 && point <= 0xDBFF) {
                point = 0x10000 + ((point - 0xD800) << 10) + (hex4(p + 2) - 0xDC00);
                p += 6;
            }
            out = put_utf8(out, point);
            break;
        }
        default: *out++ = (char)c; /* " \ / */
        }
    }
    return out;
}

/* Appends row's value to the column: the slot's text, stripped as str.strip() strips. */
static void emit(Column *column, Py_ssize_t row, const Slot *slot) {
    char *out = column->chars + column->used;
    if (slot->kind == ABSENT) {
        column->nulls++;
    } else {
        cursor start, stop;
        if (slot->kind == PLAIN) {
            start = slot->start;
            stop = slot->stop;
        } else {
            start = (cursor)out;
            stop = (cursor)unescape(slot->start, slot->stop, out);
        }
        int width;
        while (start < stop && (width = space_at(start, stop))) start += width;
        while (stop > start && (width = space_before(start, stop))) stop -= width;
        memmove(out, start, stop - start);
        column->used += stop - start;
        column->valid[row >> 3] |= (uint8_t)(1 << (row & 7));
    }
    column->offsets[row + 1] = (int32_t)column->used;
}

static void release_columns(Column *columns, int fields) {
    for (int f = 0; f < fields; f++) {
        Py_XDECREF(columns[f].chars_bytes);
        Py_XDECREF(columns[f].offsets_bytes);
        Py_XDECREF(columns[f].valid_bytes);
    }
}

PyDoc_STRVAR(scan_doc,
    "scan(data, fields) -> (bounds, simple, rows, columns)\n\n"
    "data: whole lines, the last ending in a newline. bounds: int64 starts then stops of each line's\n"
    "text (without its newline and one CR before it); simple: one byte per line, 1 for a simple line;\n"
    "rows: how many are simple; columns: per field name (bytes), the Arrow buffers of a string\n"
    "column over the simple lines: (offsets int32, chars, validity bitmap, null count).");

static PyObject *scan(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer input;
    PyObject *names;
    if (!PyArg_ParseTuple(args, "y*O!", &input, &PyTuple_Type, &names)) return NULL;
    PyObject *result = NULL, *bounds = NULL, *simple = NULL;
    Column columns[MAX_FIELDS] = {{0}};
    int fields = (int)PyTuple_GET_SIZE(names);
    cursor data = input.buf, data_end = data + input.len;
    if (fields > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "too many fields");
        goto done;
    }
    if (input.len > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "a block must be under 2 GiB");
        goto done;
    }
    if (input.len && data_end[-1] != '\n') {
        PyErr_SetString(PyExc_ValueError, "a block ends with a newline");
        goto done;
    }
    Py_ssize_t lines = 0;
    for (cursor p = data; (p = memchr(p, '\n', data_end - p)) != NULL; p++) lines++;
    bounds = PyBytes_FromStringAndSize(NULL, 2 * lines * (Py_ssize_t)sizeof(int64_t));
    simple = PyBytes_FromStringAndSize(NULL, lines);
    if (bounds == NULL || simple == NULL) goto done;
    for (int f = 0; f < fields; f++) {
        PyObject *name = PyTuple_GET_ITEM(names, f);
        if (!PyBytes_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "field names are bytes");
            goto done;
        }
        columns[f].name = PyBytes_AS_STRING(name);
        columns[f].length = PyBytes_GET_SIZE(name);
        /* A field's values are disjoint parts of the block, and unescaping only shortens them.
         * The sizes are never 0, so each object is a new one (not the shared empty bytes). */
        columns[f].chars_bytes = PyBytes_FromStringAndSize(NULL, input.len + 1);
        columns[f].offsets_bytes = PyBytes_FromStringAndSize(NULL, (lines + 1) * sizeof(int32_t));
        columns[f].valid_bytes = PyBytes_FromStringAndSize(NULL, lines / 8 + 1);
        if (!columns[f].chars_bytes || !columns[f].offsets_bytes || !columns[f].valid_bytes) goto done;
        columns[f].chars = PyBytes_AS_STRING(columns[f].chars_bytes);
        columns[f].offsets = (int32_t *)PyBytes_AS_STRING(columns[f].offsets_bytes);
        columns[f].valid = (uint8_t *)PyBytes_AS_STRING(columns[f].valid_bytes);
        columns[f].offsets[0] = 0;
        memset(columns[f].valid, 0, lines / 8 + 1);
    }
    int64_t *starts = (int64_t *)PyBytes_AS_STRING(bounds), *stops = starts + lines;
    char *flags = PyBytes_AS_STRING(simple);
    Py_ssize_t rows = 0;
    Py_BEGIN_ALLOW_THREADS
    Slot slots[MAX_FIELDS];
    cursor start = data;
    for (Py_ssize_t line = 0; line < lines; line++) {
        cursor newline = memchr(start, '\n', data_end - start);
        cursor stop = newline > start && newline[-1] == '\r' ? newline - 1 : newline;
        starts[line] = start - data;
        stops[line] = stop - data;
        flags[line] = (char)scan_line(start, stop, columns, fields, slots);
        if (flags[line]) {
            for (int f = 0; f < fields; f++) emit(&columns[f], rows, &slots[f]);
            rows++;
        }
        start = newline + 1;
    }
    Py_END_ALLOW_THREADS
    PyObject *built = PyList_New(fields);
    if (built == NULL) goto done;
    for (int f = 0; f < fields; f++) {
        Column *c = &columns[f];
        PyObject *column = NULL;
        /* On failure _PyBytes_Resize frees the object and sets the pointer to NULL. */
        if (_PyBytes_Resize(&c->offsets_bytes, (rows + 1) * sizeof(int32_t)) == 0
            && _PyBytes_Resize(&c->chars_bytes, c->used) == 0 && _PyBytes_Resize(&c->valid_bytes, rows / 8 + 1) == 0) {
            column = Py_BuildValue("(OOOn)", c->offsets_bytes, c->chars_bytes, c->valid_bytes, c->nulls);
        }
        if (column == NULL) {
            Py_DECREF(built);
            goto done;
        }
        PyList_SET_ITEM(built, f, column);
    }
    result = Py_BuildValue("(OOnN)", bounds, simple, rows, built);
done:
    release_columns(columns, fields);
    Py_XDECREF(bounds);
    Py_XDECREF(simple);
    PyBuffer_Release(&input);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_jsonl_scan",
    .m_doc = "The JSON lines scanner of core/jsonl_blocks.py.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__jsonl_scan(void) {
    for (int c = 0; c < 0x20; c++) STRING_STOP[c] = 1;
    STRING_STOP['"'] = STRING_STOP['\\'] = 1;
    return PyModule_Create(&module);
}
