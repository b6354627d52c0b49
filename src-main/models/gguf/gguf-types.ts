// The GGUF format's vocabulary: metadata values, tensor infos and ggml type ids (ggml's gguf.md).

/** A metadata value as read: arrays nest, 64-bit integers stay bigint. */
export type GgufValue = number | bigint | boolean | string | GgufValue[]

export interface GgufTensorInfo {
  name: string
  /** ggml order: ne[0] varies fastest. A PyTorch weight [out, in] has ne = [in, out]. */
  ne: number[]
  /** The ggml_type id (GgmlType). */
  type: number
  /** Absolute offset of the tensor's data in the file. */
  offset: number
  byteLength: number
}

export interface GgufHeader {
  version: number
  metadata: Map<string, GgufValue>
  tensors: GgufTensorInfo[]
  alignment: number
}

/** ggml_type ids (ggml.h). */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  BF16: 30,
} as const
