/* conveyor_serializer_json._proof: the compiled proof that a value is plain JSON data.
 *
 * is_plain(value) is True when value is made only of JSON's own types, exactly:
 * dict with exact str keys, list, str, int from -2**63 to 2**64 - 1, finite float,
 * bool and None, nested at most MAX_DEPTH containers deep. Anything else (a tuple, a
 * subclass, an Enum member, a UUID, nan, a bigger int, a non-str key, a deeper nesting)
 * makes it False. It answers the question the pure-Python walk of plain.py
 * (proven_plain) answers, and exactly (the walk refuses a few odd plain shapes, which
 * then take a slower path), about 2.5 times as fast on small records. plain.py uses it
 * when this module was built, and the walk when it was not (no C compiler at install).
 *
 * What it does not look at is the caller's, as for the walk: lone surrogates in a str
 * (both libraries refuse to write them as UTF-8) and the marker key (seen in the bytes).
 *
 * It only reads: no Python code runs while it walks (no __eq__, no __hash__, no
 * allocation), so nothing can change a container under it, and it holds the GIL
 * throughout (it declares no free-threading support).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* Deeper than orjson writes (it refuses 255 levels), as plain.py's _MAX_DEPTH: a
 * reference cycle or a value for the exact Encoder, and a bound on the C stack. */
#define MAX_DEPTH 256

/* An exact int within -2**63 .. 2**64 - 1, the range both libraries write and read. */
static int
int_in_range(PyObject *obj)
{
    int overflow;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow == 0) {
        if (value == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        return 1;
    }
    if (overflow < 0) {
        return 0;
    }
    unsigned long long big = PyLong_AsUnsignedLongLong(obj);
    if (big == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear(); /* OverflowError: beyond 2**64 - 1 */
        return 0;
    }
    return 1;
}

static int
plain(PyObject *obj, int depth)
{
    PyTypeObject *type = Py_TYPE(obj);
    if (type == &PyUnicode_Type || obj == Py_None || type == &PyBool_Type) {
        return 1; /* bool cannot be subclassed: its type is the exact bool */
    }
    if (type == &PyLong_Type) {
        return int_in_range(obj);
    }
    if (type == &PyFloat_Type) {
        return isfinite(PyFloat_AS_DOUBLE(obj)) != 0;
    }
    if (depth >= MAX_DEPTH) {
        return 0;
    }
    if (type == &PyList_Type) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(obj); i++) {
            if (!plain(PyList_GET_ITEM(obj, i), depth + 1)) {
                return 0;
            }
        }
        return 1;
    }
    if (type == &PyDict_Type) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(obj, &pos, &key, &value)) {
            if (Py_TYPE(key) != &PyUnicode_Type || !plain(value, depth + 1)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

static PyObject *
is_plain(PyObject *Py_UNUSED(module), PyObject *value)
{
    return PyBool_FromLong(plain(value, 0));
}

PyDoc_STRVAR(is_plain_doc,
"is_plain(value, /)\n--\n\n"
"True when value is made only of JSON's own types, exactly: dict with exact str keys,\n"
"list, str, int from -2**63 to 2**64 - 1, finite float, bool and None, at most 256\n"
"containers deep.");

static PyMethodDef proof_methods[] = {
    {"is_plain", is_plain, METH_O, is_plain_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot proof_slots[] = {
    {0, NULL},
};

static struct PyModuleDef proof_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "conveyor_serializer_json._proof",
    .m_doc = "The compiled proof that a value is plain JSON data (see plain.py).",
    .m_size = 0,
    .m_methods = proof_methods,
    .m_slots = proof_slots,
};

PyMODINIT_FUNC
PyInit__proof(void)
{
    return PyModuleDef_Init(&proof_module);
}
