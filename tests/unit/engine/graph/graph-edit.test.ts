// The node-list helpers the load-time rewrites share, on lists a pass can leave out of order: a
// Constant placed right before its first reader (as torch.onnx does) and a reader added earlier.

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { removeDeadNodes, sortNodes, type IGraphProto, type INodeProto } from '../../../../src-main/engine/graph/graph-edit.ts'

function node(name: string, input: string[], output = [name]): INodeProto {
  return { name, opType: name.startsWith('c') ? 'Constant' : 'Mul', input, output }
}

/** x -> a -> b -> y, where b reads the constant c listed right before it, and `early` (added by a pass) reads c before it is made. */
function outOfOrder(): IGraphProto {
  return {
    input: [{ name: 'x' }],
    output: [{ name: 'y' }],
    node: [node('a', ['x']), node('early', ['a', 'c']), node('c', []), node('b', ['early', 'c']), node('y', ['b'])],
  }
}

const names = (graph: IGraphProto): string[] => graph.node!.map((n) => n.name!)

describe('removeDeadNodes', () => {
  it('keeps a producer listed after its reader, and drops what no output reads', () => {
    const graph = outOfOrder()
    graph.node!.push(node('unread', ['x']))
    removeDeadNodes(graph)
    assert.deepEqual(names(graph), ['a', 'early', 'c', 'b', 'y'])
  })
})

describe('sortNodes', () => {
  it('leaves a list already in dependency order as it is', () => {
    const graph: IGraphProto = { node: [node('a', ['x']), node('c', []), node('b', ['a', 'c']), node('d', ['x']), node('y', ['b', 'd'])] }
    const before = [...graph.node!]
    sortNodes(graph)
    assert.deepEqual(graph.node, before)
  })

  it('moves a producer listed after its reader to just before it, keeping the rest in order', () => {
    const graph = outOfOrder()
    sortNodes(graph)
    assert.deepEqual(names(graph), ['a', 'c', 'early', 'b', 'y'])
  })

  it('moves a chain of late producers in dependency order', () => {
    const graph: IGraphProto = { node: [node('y', ['b']), node('b', ['a']), node('a', ['x'])] }
    sortNodes(graph)
    assert.deepEqual(names(graph), ['a', 'b', 'y'])
  })

  it('ignores inputs no node produces, and empty names of absent optional inputs', () => {
    const graph: IGraphProto = { node: [node('a', ['x', '']), node('b', ['a', 'weights'], ['b', ''])] }
    sortNodes(graph)
    assert.deepEqual(names(graph), ['a', 'b'])
  })

  it('refuses a cycle', () => {
    const graph: IGraphProto = { node: [node('a', ['b']), node('b', ['a'])] }
    assert.throws(() => sortNodes(graph), /cycle/)
  })
})
