/* The contract's row rules (validation.validate) over byte ranges of stripped values, a row at a
 * time in one compiled loop: the fast twin that columnar.check_texts calls.
 *
 * Each field is (data, start, length): value i is data[start[i] : start[i] + length[i]], length 0
 * meaning missing. The rules are validate()'s, in its order, the first failing one naming the
 * row's reason: a required field missing, an event type not among the kinds, a timestamp that does
 * not match validation._TIMESTAMP or is not a real date and time, then for the monetary kinds an
 * amount not matching validation._AMOUNT and a currency that is not three letters A-Z. Only ASCII
 * bytes can match, so the result is exactly validate()'s for any UTF-8 text.
 *
 * An amount of more than 16 bytes (its cents may not fit in int64) is left to Python: its row is
 * listed, with the reason the currency would give it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define FIELDS 6
#define MAX_KINDS 16
#define FAST_AMOUNT_BYTES 16 /* 16 digits times 100 stays below 2**63 cents */

enum { EVENT_ID, EVENT_TIME, USER_ID, EVENT_TYPE, AMOUNT, CURRENCY };
enum { MISSING, BAD_TYPE, BAD_TIME, BAD_AMOUNT, BAD_CURRENCY, REASONS };

typedef struct {
    Py_buffer data, start, length;
    const unsigned char *bytes;
    const int64_t *starts, *lengths;
} Field;

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline int two_digits(const unsigned char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* The UTC hour of a contract timestamp, or -1 (validation.utc_hour). */
static int utc_hour(const unsigned char *s, int64_t n) {
    static const int DAYS[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static const char SHAPE[] = "0000-00-00?00:00:00"; /* '0' a digit, '?' 'T' or a space */
    if (n < 19) return -1;
    for (int i = 0; i < 19; i++) {
        char want = SHAPE[i];
        if (want == '0' ? !is_digit(s[i]) : want == '?' ? s[i] != 'T' && s[i] != ' ' : s[i] != (unsigned char)want) return -1;
    }
    int64_t p = 19;
    if (p < n && s[p] == '.') {
        int64_t first = ++p;
        while (p < n && p - first < 9 && is_digit(s[p])) p++;
        if (p == first) return -1;
    }
    int offset = 0;
    if (p < n) {
        if (s[p] == 'Z' && p + 1 == n) {
            /* UTC */
        } else if ((s[p] == '+' || s[p] == '-') && p + 6 == n && is_digit(s[p + 1]) && is_digit(s[p + 2]) && s[p + 3] == ':'
                   && is_digit(s[p + 4]) && is_digit(s[p + 5])) {
            int hours = two_digits(s + p + 1), minutes = two_digits(s + p + 4);
            if (hours > 23 || minutes > 59) return -1;
            offset = (hours * 60 + minutes) * (s[p] == '-' ? -1 : 1);
        } else {
            return -1;
        }
    }
    int year = two_digits(s) * 100 + two_digits(s + 2), month = two_digits(s + 5), day = two_digits(s + 8);
    int hour = two_digits(s + 11), minute = two_digits(s + 14), second = two_digits(s + 17);
    if (year < 1 || month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return -1;
    int leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (day < 1 || day > DAYS[month] + (month == 2 && leap)) return -1;
    /* Python's floor division and modulo: the sum is at least -1439, so shift by two days. */
    return ((hour * 60 + minute - offset + 2 * 1440) / 60) % 24;
}

/* The cents of an amount of at most FAST_AMOUNT_BYTES bytes, or -1 (validation.amount_cents). */
static int64_t amount_cents(const unsigned char *s, int64_t n) {
    int64_t whole = 0, p = 0;
    while (p < n && is_digit(s[p])) whole = whole * 10 + (s[p++] - '0');
    if (p == 0) return -1;
    if (p == n) return whole * 100;
    if (s[p] != '.' || n - p < 2 || n - p > 3) return -1;
    int64_t fraction = 0;
    for (int64_t q = p + 1; q < n; q++) {
        if (!is_digit(s[q])) return -1;
        fraction = fraction * 10 + (s[q] - '0');
    }
    return whole * 100 + (n - p == 2 ? fraction * 10 : fraction);
}

static void release(Field *fields) {
    for (int f = 0; f < FIELDS; f++) {
        if (fields[f].data.obj) PyBuffer_Release(&fields[f].data);
        if (fields[f].start.obj) PyBuffer_Release(&fields[f].start);
        if (fields[f].length.obj) PyBuffer_Release(&fields[f].length);
    }
}

PyDoc_STRVAR(check_doc,
    "check(fields, kinds, monetary, codes) -> (reasons, type_code, hours, is_money, cents, long_amounts)\n\n"
    "fields: six (data, start int64, length int64) in REQUIRED_COLUMNS order; kinds: the event types\n"
    "as bytes; monetary: one byte per kind; codes: the five reason codes in rule order. Returns\n"
    "bytearrays: int8 reasons (0 valid), int64 type codes (-1), int64 UTC hours (-1), bool monetary,\n"
    "int64 cents; and int64 rows whose amount is too long for int64 arithmetic.");

static PyObject *check(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *field_tuple, *kind_tuple;
    Py_buffer monetary_buffer = {0};
    int codes[REASONS];
    if (!PyArg_ParseTuple(args, "O!O!y*(iiiii)", &PyTuple_Type, &field_tuple, &PyTuple_Type, &kind_tuple,
                          &monetary_buffer, &codes[0], &codes[1], &codes[2], &codes[3], &codes[4]))
        return NULL;
    Field fields[FIELDS];
    memset(fields, 0, sizeof fields);
    PyObject *reasons = NULL, *type_codes = NULL, *hours = NULL, *money = NULL, *cents = NULL, *long_rows = NULL;
    PyObject *result = NULL;
    const char *kinds[MAX_KINDS];
    Py_ssize_t kind_lengths[MAX_KINDS];
    Py_ssize_t kind_count = PyTuple_GET_SIZE(kind_tuple), n = -1;
    if (PyTuple_GET_SIZE(field_tuple) != FIELDS || kind_count > MAX_KINDS || monetary_buffer.len != kind_count) {
        PyErr_SetString(PyExc_ValueError, "six fields, at most 16 kinds, one monetary flag per kind");
        goto done;
    }
    for (Py_ssize_t k = 0; k < kind_count; k++) {
        PyObject *kind = PyTuple_GET_ITEM(kind_tuple, k);
        if (!PyBytes_Check(kind)) {
            PyErr_SetString(PyExc_TypeError, "kinds are bytes");
            goto done;
        }
        kinds[k] = PyBytes_AS_STRING(kind);
        kind_lengths[k] = PyBytes_GET_SIZE(kind);
    }
    for (int f = 0; f < FIELDS; f++) {
        Field *field = &fields[f];
        PyObject *item = PyTuple_GET_ITEM(field_tuple, f);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3
            || PyObject_GetBuffer(PyTuple_GET_ITEM(item, 0), &field->data, PyBUF_SIMPLE) < 0
            || PyObject_GetBuffer(PyTuple_GET_ITEM(item, 1), &field->start, PyBUF_SIMPLE) < 0
            || PyObject_GetBuffer(PyTuple_GET_ITEM(item, 2), &field->length, PyBUF_SIMPLE) < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a field is (data, start, length)");
            goto done;
        }
        Py_ssize_t rows = field->start.len / (Py_ssize_t)sizeof(int64_t);
        if (n < 0) n = rows;
        if (rows != n || field->length.len != field->start.len || field->start.len % sizeof(int64_t)) {
            PyErr_SetString(PyExc_ValueError, "every field has one int64 start and length per row");
            goto done;
        }
        field->bytes = field->data.buf;
        field->starts = field->start.buf;
        field->lengths = field->length.buf;
        for (Py_ssize_t row = 0; row < n; row++) {
            int64_t start = field->starts[row], length = field->lengths[row];
            if (length < 0 || (length > 0 && (start < 0 || start > field->data.len - length))) {
                PyErr_SetString(PyExc_ValueError, "a value lies outside its buffer");
                goto done;
            }
        }
    }
    if (n < 0) n = 0;
    reasons = PyByteArray_FromStringAndSize(NULL, n);
    type_codes = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    hours = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    money = PyByteArray_FromStringAndSize(NULL, n);
    cents = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    long_rows = PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    if (!reasons || !type_codes || !hours || !money || !cents || !long_rows) goto done;
    int8_t *reason = (int8_t *)PyByteArray_AS_STRING(reasons);
    int64_t *type_code = (int64_t *)PyByteArray_AS_STRING(type_codes), *hour = (int64_t *)PyByteArray_AS_STRING(hours);
    char *is_money = PyByteArray_AS_STRING(money);
    int64_t *cent = (int64_t *)PyByteArray_AS_STRING(cents), *longs = (int64_t *)PyByteArray_AS_STRING(long_rows);
    const char *monetary = monetary_buffer.buf;
    Py_ssize_t long_count = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t row = 0; row < n; row++) {
        const unsigned char *value[FIELDS];
        int64_t length[FIELDS];
        for (int f = 0; f < FIELDS; f++) {
            length[f] = fields[f].lengths[row];
            value[f] = fields[f].bytes + (length[f] ? fields[f].starts[row] : 0);
        }
        int64_t code = -1;
        for (Py_ssize_t k = 0; k < kind_count; k++) {
            if (length[EVENT_TYPE] == kind_lengths[k] && memcmp(value[EVENT_TYPE], kinds[k], kind_lengths[k]) == 0) {
                code = k;
                break;
            }
        }
        type_code[row] = code;
        hour[row] = -1;
        is_money[row] = 0;
        cent[row] = 0;
        if (!length[EVENT_ID] || !length[EVENT_TIME] || !length[USER_ID] || !length[EVENT_TYPE]) {
            reason[row] = (int8_t)codes[MISSING];
            continue;
        }
        if (code < 0) {
            reason[row] = (int8_t)codes[BAD_TYPE];
            continue;
        }
        int utc = utc_hour(value[EVENT_TIME], length[EVENT_TIME]);
        hour[row] = utc;
        if (utc < 0) {
            reason[row] = (int8_t)codes[BAD_TIME];
            continue;
        }
        reason[row] = 0;
        if (!monetary[code]) continue;
        is_money[row] = 1;
        const unsigned char *c = value[CURRENCY];
        int currency_ok = length[CURRENCY] == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
                          && c[2] >= 'A' && c[2] <= 'Z';
        if (length[AMOUNT] > FAST_AMOUNT_BYTES) {
            longs[long_count++] = row;
        } else {
            int64_t amount = length[AMOUNT] ? amount_cents(value[AMOUNT], length[AMOUNT]) : -1;
            if (amount < 0) {
                reason[row] = (int8_t)codes[BAD_AMOUNT];
                continue;
            }
            cent[row] = amount;
        }
        if (!currency_ok) reason[row] = (int8_t)codes[BAD_CURRENCY];
    }
    Py_END_ALLOW_THREADS
    if (PyByteArray_Resize(long_rows, long_count * (Py_ssize_t)sizeof(int64_t)) < 0) goto done;
    result = Py_BuildValue("(OOOOOO)", reasons, type_codes, hours, money, cents, long_rows);
done:
    Py_XDECREF(reasons);
    Py_XDECREF(type_codes);
    Py_XDECREF(hours);
    Py_XDECREF(money);
    Py_XDECREF(cents);
    Py_XDECREF(long_rows);
    release(fields);
    PyBuffer_Release(&monetary_buffer);
    return result;
}

static PyMethodDef methods[] = {
    {"check", check, METH_VARARGS, check_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_rules",
    .m_doc = "The contract's row rules over byte ranges, for core/columnar.py.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__rules(void) { return PyModule_Create(&module); }
