# Writes ggml-golden.json: blocks quantized by ggml itself and the values ggml dequantizes them to.
# Usage: python3 make-golden.py LIBGGML_BASE_SO > ggml-golden.json
# (the library ships in @node-llama-cpp/linux-x64, bins/linux-x64/libggml-base.so; numpy needed)
import base64, ctypes, json, sys
import numpy as np

lib = ctypes.CDLL(sys.argv[1])

class Traits(ctypes.Structure):
    _fields_ = [('type_name', ctypes.c_char_p), ('blck_size', ctypes.c_int64), ('blck_size_interleave', ctypes.c_int64),
                ('type_size', ctypes.c_size_t), ('is_quantized', ctypes.c_bool), ('to_float', ctypes.c_void_p), ('from_float_ref', ctypes.c_void_p)]

lib.ggml_get_type_traits.restype = ctypes.POINTER(Traits)
lib.ggml_quantize_chunk.restype = ctypes.c_size_t
lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
ToFloat = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()

rng = np.random.default_rng(260)
# Values of every kind a weight holds: gaussian, heavy-tailed, all zero, constant, all positive.
def source(n):
    parts = [rng.normal(0, 0.02, n // 2), rng.standard_t(3, n // 8) * 0.05, np.zeros(n // 8), np.full(n // 8, 0.25),
             rng.uniform(0.1, 0.3, n - n // 2 - 3 * (n // 8))]
    return np.concatenate(parts).astype(np.float32)

types = {}
for t in range(0, 43):
    tr = lib.ggml_get_type_traits(t).contents
    if tr.type_name is None or tr.blck_size == 0 or tr.type_size == 0:
        continue
    types[t] = {'name': tr.type_name.decode(), 'blockSize': tr.blck_size, 'typeSize': tr.type_size}

lib.ggml_quantize_init.argtypes = [ctypes.c_int]
golden = {'traits': types, 'blocks': []}
for name, t in [('Q4_0', 2), ('Q4_1', 3), ('Q5_0', 6), ('Q5_1', 7), ('Q8_0', 8), ('Q4_K', 12), ('Q5_K', 13), ('Q6_K', 14), ('BF16', 30), ('F16', 1)]:
    n = 512
    x = source(n)
    tr = lib.ggml_get_type_traits(t).contents
    lib.ggml_quantize_init(t)
    q = np.zeros(n // tr.blck_size * tr.type_size, np.uint8)
    lib.ggml_quantize_chunk(t, x.ctypes.data, q.ctypes.data, 0, 1, n, None)
    y = np.zeros(n, np.float32)
    ToFloat(tr.to_float)(q.ctypes.data, y.ctypes.data, n)
    golden['blocks'].append({'name': name, 'type': t, 'count': n, 'bytes': b64(q), 'values': b64(y)})
json.dump(golden, sys.stdout)
