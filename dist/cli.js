import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({

/***/ 6173:
/***/ ((module) => {

function isBuffer(value) {
  return Buffer.isBuffer(value) || value instanceof Uint8Array
}

function isEncoding(encoding) {
  return Buffer.isEncoding(encoding)
}

function alloc(size, fill, encoding) {
  return Buffer.alloc(size, fill, encoding)
}

function allocUnsafe(size) {
  return Buffer.allocUnsafe(size)
}

function allocUnsafeSlow(size) {
  return Buffer.allocUnsafeSlow(size)
}

function byteLength(string, encoding) {
  return Buffer.byteLength(string, encoding)
}

function compare(a, b) {
  return Buffer.compare(a, b)
}

function concat(buffers, totalLength) {
  return Buffer.concat(buffers, totalLength)
}

function copy(source, target, targetStart, start, end) {
  return toBuffer(source).copy(target, targetStart, start, end)
}

function equals(a, b) {
  return toBuffer(a).equals(b)
}

function fill(buffer, value, offset, end, encoding) {
  return toBuffer(buffer).fill(value, offset, end, encoding)
}

function from(value, encodingOrOffset, length) {
  return Buffer.from(value, encodingOrOffset, length)
}

function includes(buffer, value, byteOffset, encoding) {
  return toBuffer(buffer).includes(value, byteOffset, encoding)
}

function indexOf(buffer, value, byfeOffset, encoding) {
  return toBuffer(buffer).indexOf(value, byfeOffset, encoding)
}

function lastIndexOf(buffer, value, byteOffset, encoding) {
  return toBuffer(buffer).lastIndexOf(value, byteOffset, encoding)
}

function swap16(buffer) {
  return toBuffer(buffer).swap16()
}

function swap32(buffer) {
  return toBuffer(buffer).swap32()
}

function swap64(buffer) {
  return toBuffer(buffer).swap64()
}

function toBuffer(buffer) {
  if (Buffer.isBuffer(buffer)) return buffer
  return Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

function toString(buffer, encoding, start, end) {
  return toBuffer(buffer).toString(encoding, start, end)
}

function toHex(buffer, start, end) {
  return toBuffer(buffer).toString('hex', start, end)
}

function write(buffer, string, offset, length, encoding) {
  return toBuffer(buffer).write(string, offset, length, encoding)
}

function readDoubleBE(buffer, offset) {
  return toBuffer(buffer).readDoubleBE(offset)
}

function readDoubleLE(buffer, offset) {
  return toBuffer(buffer).readDoubleLE(offset)
}

function readFloatBE(buffer, offset) {
  return toBuffer(buffer).readFloatBE(offset)
}

function readFloatLE(buffer, offset) {
  return toBuffer(buffer).readFloatLE(offset)
}

function readInt32BE(buffer, offset) {
  return toBuffer(buffer).readInt32BE(offset)
}

function readInt32LE(buffer, offset) {
  return toBuffer(buffer).readInt32LE(offset)
}

function readUInt32BE(buffer, offset) {
  return toBuffer(buffer).readUInt32BE(offset)
}

function readUInt32LE(buffer, offset) {
  return toBuffer(buffer).readUInt32LE(offset)
}

function writeDoubleBE(buffer, value, offset) {
  return toBuffer(buffer).writeDoubleBE(value, offset)
}

function writeDoubleLE(buffer, value, offset) {
  return toBuffer(buffer).writeDoubleLE(value, offset)
}

function writeFloatBE(buffer, value, offset) {
  return toBuffer(buffer).writeFloatBE(value, offset)
}

function writeFloatLE(buffer, value, offset) {
  return toBuffer(buffer).writeFloatLE(value, offset)
}

function writeInt32BE(buffer, value, offset) {
  return toBuffer(buffer).writeInt32BE(value, offset)
}

function writeInt32LE(buffer, value, offset) {
  return toBuffer(buffer).writeInt32LE(value, offset)
}

function writeUInt32BE(buffer, value, offset) {
  return toBuffer(buffer).writeUInt32BE(value, offset)
}

function writeUInt32LE(buffer, value, offset) {
  return toBuffer(buffer).writeUInt32LE(value, offset)
}

module.exports = {
  isBuffer,
  isEncoding,
  alloc,
  allocUnsafe,
  allocUnsafeSlow,
  byteLength,
  compare,
  concat,
  copy,
  equals,
  fill,
  from,
  includes,
  indexOf,
  lastIndexOf,
  swap16,
  swap32,
  swap64,
  toBuffer,
  toString,
  toHex,
  write,
  readDoubleBE,
  readDoubleLE,
  readFloatBE,
  readFloatLE,
  readInt32BE,
  readInt32LE,
  readUInt32BE,
  readUInt32LE,
  writeDoubleBE,
  writeDoubleLE,
  writeFloatBE,
  writeFloatLE,
  writeInt32BE,
  writeInt32LE,
  writeUInt32BE,
  writeUInt32LE
}


/***/ }),

/***/ 1736:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

module.exports = __nccwpck_require__(4434)


/***/ }),

/***/ 1967:
/***/ ((module) => {

module.exports = class FixedFIFO {
  constructor (hwm) {
    if (!(hwm > 0) || ((hwm - 1) & hwm) !== 0) throw new Error('Max size for a FixedFIFO should be a power of two')
    this.buffer = new Array(hwm)
    this.mask = hwm - 1
    this.top = 0
    this.btm = 0
    this.next = null
  }

  clear () {
    this.top = this.btm = 0
    this.next = null
    this.buffer.fill(undefined)
  }

  push (data) {
    if (this.buffer[this.top] !== undefined) return false
    this.buffer[this.top] = data
    this.top = (this.top + 1) & this.mask
    return true
  }

  shift () {
    const last = this.buffer[this.btm]
    if (last === undefined) return undefined
    this.buffer[this.btm] = undefined
    this.btm = (this.btm + 1) & this.mask
    return last
  }

  peek () {
    return this.buffer[this.btm]
  }

  isEmpty () {
    return this.buffer[this.btm] === undefined
  }
}


/***/ }),

/***/ 6927:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const FixedFIFO = __nccwpck_require__(1967)

module.exports = class FastFIFO {
  constructor (hwm) {
    this.hwm = hwm || 16
    this.head = new FixedFIFO(this.hwm)
    this.tail = this.head
    this.length = 0
  }

  clear () {
    this.head = this.tail
    this.head.clear()
    this.length = 0
  }

  push (val) {
    this.length++
    if (!this.head.push(val)) {
      const prev = this.head
      this.head = prev.next = new FixedFIFO(2 * this.head.buffer.length)
      this.head.push(val)
    }
  }

  shift () {
    if (this.length !== 0) this.length--
    const val = this.tail.shift()
    if (val === undefined && this.tail.next) {
      const next = this.tail.next
      this.tail.next = null
      this.tail = next
      return this.tail.shift()
    }

    return val
  }

  peek () {
    const val = this.tail.peek()
    if (val === undefined && this.tail.next) return this.tail.next.peek()
    return val
  }

  isEmpty () {
    return this.length === 0
  }
}


/***/ }),

/***/ 8200:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const { EventEmitter } = __nccwpck_require__(1736)
const FIFO = __nccwpck_require__(6927)
const TextDecoder = __nccwpck_require__(1410)

const StreamError = __nccwpck_require__(3237)

// if we do a future major, expect queue microtask to be there always, for now a bit defensive
const qmt =
  typeof queueMicrotask === 'undefined' ? (fn) => global.process.nextTick(fn) : queueMicrotask

// 29 bits used total (4 from shared, 14 from read, and 11 from write)
const MAX = (1 << 29) - 1

// Shared state
const OPENING = 0b0001
const PREDESTROYING = 0b0010
const DESTROYING = 0b0100
const DESTROYED = 0b1000

const NOT_OPENING = MAX ^ OPENING
const NOT_PREDESTROYING = MAX ^ PREDESTROYING

// Read state (4 bit offset from shared state)
const READ_ACTIVE = 0b00000000000001 << 4
const READ_UPDATING = 0b00000000000010 << 4
const READ_PRIMARY = 0b00000000000100 << 4
const READ_QUEUED = 0b00000000001000 << 4
const READ_RESUMED = 0b00000000010000 << 4
const READ_PIPE_DRAINED = 0b00000000100000 << 4
const READ_ENDING = 0b00000001000000 << 4
const READ_EMIT_DATA = 0b00000010000000 << 4
const READ_EMIT_READABLE = 0b00000100000000 << 4
const READ_EMITTED_READABLE = 0b00001000000000 << 4
const READ_DONE = 0b00010000000000 << 4
const READ_NEXT_TICK = 0b00100000000000 << 4
const READ_NEEDS_PUSH = 0b01000000000000 << 4
const READ_READ_AHEAD = 0b10000000000000 << 4

// Combined read state
const READ_FLOWING = READ_RESUMED | READ_PIPE_DRAINED
const READ_ACTIVE_AND_NEEDS_PUSH = READ_ACTIVE | READ_NEEDS_PUSH
const READ_PRIMARY_AND_ACTIVE = READ_PRIMARY | READ_ACTIVE
const READ_EMIT_READABLE_AND_QUEUED = READ_EMIT_READABLE | READ_QUEUED
const READ_RESUMED_READ_AHEAD = READ_RESUMED | READ_READ_AHEAD

const READ_NOT_ACTIVE = MAX ^ READ_ACTIVE
const READ_NON_PRIMARY = MAX ^ READ_PRIMARY
const READ_NON_PRIMARY_AND_PUSHED = MAX ^ (READ_PRIMARY | READ_NEEDS_PUSH)
const READ_PUSHED = MAX ^ READ_NEEDS_PUSH
const READ_PAUSED = MAX ^ READ_RESUMED
const READ_NOT_QUEUED = MAX ^ (READ_QUEUED | READ_EMITTED_READABLE)
const READ_NOT_ENDING = MAX ^ READ_ENDING
const READ_PIPE_NOT_DRAINED = MAX ^ READ_FLOWING
const READ_NOT_NEXT_TICK = MAX ^ READ_NEXT_TICK
const READ_NOT_UPDATING = MAX ^ READ_UPDATING
const READ_NO_READ_AHEAD = MAX ^ READ_READ_AHEAD
const READ_PAUSED_NO_READ_AHEAD = MAX ^ READ_RESUMED_READ_AHEAD

// Write state (18 bit offset, 4 bit offset from shared state and 14 from read state)
const WRITE_ACTIVE = 0b00000000001 << 18
const WRITE_UPDATING = 0b00000000010 << 18
const WRITE_PRIMARY = 0b00000000100 << 18
const WRITE_QUEUED = 0b00000001000 << 18
const WRITE_UNDRAINED = 0b00000010000 << 18
const WRITE_DONE = 0b00000100000 << 18
const WRITE_EMIT_DRAIN = 0b00001000000 << 18
const WRITE_NEXT_TICK = 0b00010000000 << 18
const WRITE_WRITING = 0b00100000000 << 18
const WRITE_FINISHING = 0b01000000000 << 18
const WRITE_CORKED = 0b10000000000 << 18

const WRITE_NOT_ACTIVE = MAX ^ (WRITE_ACTIVE | WRITE_WRITING)
const WRITE_NON_PRIMARY = MAX ^ WRITE_PRIMARY
const WRITE_NOT_FINISHING = MAX ^ (WRITE_ACTIVE | WRITE_FINISHING)
const WRITE_DRAINED = MAX ^ WRITE_UNDRAINED
const WRITE_NOT_QUEUED = MAX ^ WRITE_QUEUED
const WRITE_NOT_NEXT_TICK = MAX ^ WRITE_NEXT_TICK
const WRITE_NOT_UPDATING = MAX ^ WRITE_UPDATING
const WRITE_NOT_CORKED = MAX ^ WRITE_CORKED

// Combined shared state
const ACTIVE = READ_ACTIVE | WRITE_ACTIVE
const NOT_ACTIVE = MAX ^ ACTIVE
const DONE = READ_DONE | WRITE_DONE
const DESTROY_STATUS = DESTROYING | DESTROYED | PREDESTROYING
const OPEN_STATUS = DESTROY_STATUS | OPENING
const AUTO_DESTROY = DESTROY_STATUS | DONE
const NON_PRIMARY = WRITE_NON_PRIMARY & READ_NON_PRIMARY
const ACTIVE_OR_TICKING = WRITE_NEXT_TICK | READ_NEXT_TICK
const TICKING = ACTIVE_OR_TICKING & NOT_ACTIVE
const IS_OPENING = OPEN_STATUS | TICKING

// Combined shared state and read state
const READ_PRIMARY_STATUS = OPEN_STATUS | READ_ENDING | READ_DONE
const READ_STATUS = OPEN_STATUS | READ_DONE | READ_QUEUED
const READ_ENDING_STATUS = OPEN_STATUS | READ_ENDING | READ_QUEUED
const READ_READABLE_STATUS = OPEN_STATUS | READ_EMIT_READABLE | READ_QUEUED | READ_EMITTED_READABLE
const SHOULD_NOT_READ =
  OPEN_STATUS | READ_ACTIVE | READ_ENDING | READ_DONE | READ_NEEDS_PUSH | READ_READ_AHEAD
const READ_BACKPRESSURE_STATUS = DESTROY_STATUS | READ_ENDING | READ_DONE
const READ_UPDATE_SYNC_STATUS = READ_UPDATING | OPEN_STATUS | READ_NEXT_TICK | READ_PRIMARY
const READ_NEXT_TICK_OR_OPENING = READ_NEXT_TICK | OPENING

// Combined write state
const WRITE_PRIMARY_STATUS = OPEN_STATUS | WRITE_FINISHING | WRITE_DONE
const WRITE_QUEUED_AND_UNDRAINED = WRITE_QUEUED | WRITE_UNDRAINED
const WRITE_QUEUED_AND_ACTIVE = WRITE_QUEUED | WRITE_ACTIVE
const WRITE_DRAIN_STATUS = WRITE_QUEUED | WRITE_UNDRAINED | OPEN_STATUS | WRITE_ACTIVE
const WRITE_STATUS = OPEN_STATUS | WRITE_ACTIVE | WRITE_QUEUED | WRITE_CORKED
const WRITE_PRIMARY_AND_ACTIVE = WRITE_PRIMARY | WRITE_ACTIVE
const WRITE_ACTIVE_AND_WRITING = WRITE_ACTIVE | WRITE_WRITING
const WRITE_FINISHING_STATUS = OPEN_STATUS | WRITE_FINISHING | WRITE_QUEUED_AND_ACTIVE | WRITE_DONE
const WRITE_BACKPRESSURE_STATUS = WRITE_UNDRAINED | DESTROY_STATUS | WRITE_FINISHING | WRITE_DONE
const WRITE_UPDATE_SYNC_STATUS = WRITE_UPDATING | OPEN_STATUS | WRITE_NEXT_TICK | WRITE_PRIMARY
const WRITE_DROP_DATA = WRITE_FINISHING | WRITE_DONE | DESTROY_STATUS

const asyncIterator = Symbol.asyncIterator || Symbol('asyncIterator')

class WritableState {
  constructor(
    stream,
    { highWaterMark = 16384, map = null, mapWritable, byteLength, byteLengthWritable } = {}
  ) {
    this.stream = stream
    this.queue = new FIFO()
    this.highWaterMark = highWaterMark
    this.buffered = 0
    this.error = null
    this.pipeline = null
    this.drains = null // if we add more seldomly used helpers we might them into a subobject so its a single ptr
    this.byteLength = byteLengthWritable || byteLength || defaultByteLength
    this.map = mapWritable || map
    this.afterWrite = afterWrite.bind(this)
    this.afterUpdateNextTick = updateWriteNT.bind(this)
  }

  get ending() {
    return (this.stream._duplexState & WRITE_FINISHING) !== 0
  }

  get ended() {
    return (this.stream._duplexState & WRITE_DONE) !== 0
  }

  push(data) {
    if ((this.stream._duplexState & WRITE_DROP_DATA) !== 0) return false
    if (this.map !== null) data = this.map(data)

    this.buffered += this.byteLength(data)
    this.queue.push(data)

    if (this.buffered < this.highWaterMark) {
      this.stream._duplexState |= WRITE_QUEUED
      return true
    }

    this.stream._duplexState |= WRITE_QUEUED_AND_UNDRAINED
    return false
  }

  shift() {
    const data = this.queue.shift()

    this.buffered -= this.byteLength(data)
    if (this.buffered === 0) this.stream._duplexState &= WRITE_NOT_QUEUED

    return data
  }

  end(data) {
    if (typeof data === 'function') {
      this.stream.once('finish', data)
    } else if (data !== undefined && data !== null) {
      this.push(data)
    }

    this.stream._duplexState = (this.stream._duplexState | WRITE_FINISHING) & WRITE_NON_PRIMARY
  }

  autoBatch(data, cb) {
    const buffer = []
    const stream = this.stream

    buffer.push(data)
    while ((stream._duplexState & WRITE_STATUS) === WRITE_QUEUED_AND_ACTIVE) {
      buffer.push(stream._writableState.shift())
    }

    if ((stream._duplexState & OPEN_STATUS) !== 0) return cb(null)
    stream._writev(buffer, cb)
  }

  update() {
    const stream = this.stream

    stream._duplexState |= WRITE_UPDATING

    do {
      while ((stream._duplexState & WRITE_STATUS) === WRITE_QUEUED) {
        const data = this.shift()
        stream._duplexState |= WRITE_ACTIVE_AND_WRITING
        stream._write(data, this.afterWrite)
      }

      if ((stream._duplexState & WRITE_PRIMARY_AND_ACTIVE) === 0) this.updateNonPrimary()
    } while (this.continueUpdate() === true)

    stream._duplexState &= WRITE_NOT_UPDATING
  }

  updateNonPrimary() {
    const stream = this.stream

    if ((stream._duplexState & WRITE_FINISHING_STATUS) === WRITE_FINISHING) {
      stream._duplexState = stream._duplexState | WRITE_ACTIVE
      stream._final(afterFinal.bind(this))
      return
    }

    if ((stream._duplexState & DESTROY_STATUS) === DESTROYING) {
      if ((stream._duplexState & ACTIVE_OR_TICKING) === 0) {
        stream._duplexState |= ACTIVE
        stream._destroy(afterDestroy.bind(this))
      }
      return
    }

    if ((stream._duplexState & IS_OPENING) === OPENING) {
      stream._duplexState = (stream._duplexState | ACTIVE) & NOT_OPENING
      stream._open(afterOpen.bind(this))
    }
  }

  continueUpdate() {
    if ((this.stream._duplexState & WRITE_NEXT_TICK) === 0) return false
    this.stream._duplexState &= WRITE_NOT_NEXT_TICK
    return true
  }

  updateCallback() {
    if ((this.stream._duplexState & WRITE_UPDATE_SYNC_STATUS) === WRITE_PRIMARY) {
      this.update()
    } else {
      this.updateNextTick()
    }
  }

  updateNextTick() {
    if ((this.stream._duplexState & WRITE_NEXT_TICK) !== 0) return
    this.stream._duplexState |= WRITE_NEXT_TICK
    if ((this.stream._duplexState & WRITE_UPDATING) === 0) qmt(this.afterUpdateNextTick)
  }
}

class ReadableState {
  constructor(
    stream,
    { highWaterMark = 16384, map = null, mapReadable, byteLength, byteLengthReadable } = {}
  ) {
    this.stream = stream
    this.queue = new FIFO()
    this.highWaterMark = highWaterMark === 0 ? 1 : highWaterMark
    this.buffered = 0
    this.readAhead = highWaterMark > 0
    this.error = null
    this.pipeline = null
    this.byteLength = byteLengthReadable || byteLength || defaultByteLength
    this.map = mapReadable || map
    this.pipeTo = null
    this.afterRead = afterRead.bind(this)
    this.afterUpdateNextTick = updateReadNT.bind(this)
  }

  get ending() {
    return (this.stream._duplexState & READ_ENDING) !== 0
  }

  get ended() {
    return (this.stream._duplexState & READ_DONE) !== 0
  }

  pipe(pipeTo, cb) {
    if (this.pipeTo !== null) throw StreamError.BAD_ARGUMENT('Can only pipe to one destination')
    if (typeof cb !== 'function') cb = null

    this.stream._duplexState |= READ_PIPE_DRAINED
    this.pipeTo = pipeTo
    this.pipeline = new Pipeline(this.stream, pipeTo, cb)

    if (cb) this.stream.on('error', noop) // We already error handle this so supress crashes

    if (isStreamx(pipeTo)) {
      pipeTo._writableState.pipeline = this.pipeline
      if (cb) pipeTo.on('error', noop) // We already error handle this so supress crashes
      pipeTo.on('finish', this.pipeline.finished.bind(this.pipeline)) // TODO: just call finished from pipeTo itself
    } else {
      const onerror = this.pipeline.done.bind(this.pipeline, pipeTo)
      const onclose = this.pipeline.done.bind(this.pipeline, pipeTo, null) // onclose has a weird bool arg
      pipeTo.on('error', onerror)
      pipeTo.on('close', onclose)
      pipeTo.on('finish', this.pipeline.finished.bind(this.pipeline))
    }

    pipeTo.on('drain', afterDrain.bind(this))
    this.stream.emit('piping', pipeTo)
    pipeTo.emit('pipe', this.stream)
  }

  push(data) {
    const stream = this.stream

    if (data === null) {
      this.highWaterMark = 0
      stream._duplexState = (stream._duplexState | READ_ENDING) & READ_NON_PRIMARY_AND_PUSHED
      return false
    }

    if (this.map !== null) {
      data = this.map(data)
      if (data === null) {
        stream._duplexState &= READ_PUSHED
        return this.buffered < this.highWaterMark
      }
    }

    this.buffered += this.byteLength(data)
    this.queue.push(data)

    stream._duplexState = (stream._duplexState | READ_QUEUED) & READ_PUSHED

    return this.buffered < this.highWaterMark
  }

  shift() {
    const data = this.queue.shift()

    this.buffered -= this.byteLength(data)
    if (this.buffered === 0) {
      this.stream._duplexState &= READ_NOT_QUEUED
    }

    return data
  }

  unshift(data) {
    const pending = [this.map !== null ? this.map(data) : data]
    while (this.buffered > 0) pending.push(this.shift())

    for (let i = 0; i < pending.length - 1; i++) {
      const data = pending[i]
      this.buffered += this.byteLength(data)
      this.queue.push(data)
    }

    this.push(pending[pending.length - 1])
  }

  read() {
    const stream = this.stream

    if ((stream._duplexState & READ_STATUS) === READ_QUEUED) {
      const data = this.shift()

      if (this.pipeTo !== null && this.pipeTo.write(data) === false) {
        stream._duplexState &= READ_PIPE_NOT_DRAINED
      }

      if ((stream._duplexState & READ_EMIT_DATA) !== 0) {
        stream.emit('data', data)
      }

      return data
    }

    if (this.readAhead === false) {
      stream._duplexState |= READ_READ_AHEAD
      this.updateNextTick()
    }

    return null
  }

  drain() {
    const stream = this.stream

    while (
      (stream._duplexState & READ_STATUS) === READ_QUEUED &&
      (stream._duplexState & READ_FLOWING) !== 0
    ) {
      const data = this.shift()

      if (this.pipeTo !== null && this.pipeTo.write(data) === false) {
        stream._duplexState &= READ_PIPE_NOT_DRAINED
      }

      if ((stream._duplexState & READ_EMIT_DATA) !== 0) {
        stream.emit('data', data)
      }
    }
  }

  update() {
    const stream = this.stream

    stream._duplexState |= READ_UPDATING

    do {
      this.drain()

      while (
        this.buffered < this.highWaterMark &&
        (stream._duplexState & SHOULD_NOT_READ) === READ_READ_AHEAD
      ) {
        stream._duplexState |= READ_ACTIVE_AND_NEEDS_PUSH
        stream._read(this.afterRead)
        this.drain()
      }

      if ((stream._duplexState & READ_READABLE_STATUS) === READ_EMIT_READABLE_AND_QUEUED) {
        stream._duplexState |= READ_EMITTED_READABLE
        stream.emit('readable')
      }

      if ((stream._duplexState & READ_PRIMARY_AND_ACTIVE) === 0) {
        this.updateNonPrimary()
      }
    } while (this.continueUpdate() === true)

    stream._duplexState &= READ_NOT_UPDATING
  }

  updateNonPrimary() {
    const stream = this.stream

    if ((stream._duplexState & READ_ENDING_STATUS) === READ_ENDING) {
      stream._duplexState = (stream._duplexState | READ_DONE) & READ_NOT_ENDING
      stream.emit('end')

      if ((stream._duplexState & AUTO_DESTROY) === DONE) {
        stream._duplexState |= DESTROYING
      }

      if (this.pipeTo !== null) {
        this.pipeTo.end()
      }
    }

    if ((stream._duplexState & DESTROY_STATUS) === DESTROYING) {
      if ((stream._duplexState & ACTIVE_OR_TICKING) === 0) {
        stream._duplexState |= ACTIVE
        stream._destroy(afterDestroy.bind(this))
      }
      return
    }

    if ((stream._duplexState & IS_OPENING) === OPENING) {
      stream._duplexState = (stream._duplexState | ACTIVE) & NOT_OPENING
      stream._open(afterOpen.bind(this))
    }
  }

  continueUpdate() {
    if ((this.stream._duplexState & READ_NEXT_TICK) === 0) return false
    this.stream._duplexState &= READ_NOT_NEXT_TICK
    return true
  }

  updateCallback() {
    if ((this.stream._duplexState & READ_UPDATE_SYNC_STATUS) === READ_PRIMARY) {
      this.update()
    } else {
      this.updateNextTick()
    }
  }

  updateNextTickIfOpen() {
    if ((this.stream._duplexState & READ_NEXT_TICK_OR_OPENING) !== 0) return
    this.stream._duplexState |= READ_NEXT_TICK
    if ((this.stream._duplexState & READ_UPDATING) === 0) qmt(this.afterUpdateNextTick)
  }

  updateNextTick() {
    if ((this.stream._duplexState & READ_NEXT_TICK) !== 0) return
    this.stream._duplexState |= READ_NEXT_TICK
    if ((this.stream._duplexState & READ_UPDATING) === 0) qmt(this.afterUpdateNextTick)
  }
}

class TransformState {
  constructor(stream) {
    this.data = null
    this.afterTransform = afterTransform.bind(stream)
    this.afterFinal = null
  }
}

class Pipeline {
  constructor(src, dst, cb) {
    this.from = src
    this.to = dst
    this.afterPipe = cb
    this.error = null
    this.pipeToFinished = false
  }

  finished() {
    this.pipeToFinished = true
  }

  done(stream, err) {
    if (err) this.error = err

    if (stream === this.to) {
      this.to = null

      if (this.from !== null) {
        if ((this.from._duplexState & READ_DONE) === 0 || !this.pipeToFinished) {
          this.from.destroy(this.error || StreamError.PREMATURE_CLOSE('Writable stream closed'))
        }
        return
      }
    }

    if (stream === this.from) {
      this.from = null

      if (this.to !== null) {
        if ((stream._duplexState & READ_DONE) === 0) {
          this.to.destroy(this.error || StreamError.PREMATURE_CLOSE('Readable stream closed'))
        }
        return
      }
    }

    if (this.afterPipe !== null) this.afterPipe(this.error)
    this.to = this.from = this.afterPipe = null
  }
}

function afterDrain() {
  this.stream._duplexState |= READ_PIPE_DRAINED
  this.updateCallback()
}

function afterFinal(err) {
  const stream = this.stream
  if (err) stream.destroy(err)

  if ((stream._duplexState & DESTROY_STATUS) === 0) {
    stream._duplexState |= WRITE_DONE
    stream.emit('finish')
  }

  if ((stream._duplexState & AUTO_DESTROY) === DONE) {
    stream._duplexState |= DESTROYING
  }

  stream._duplexState &= WRITE_NOT_FINISHING

  // no need to wait the extra tick here, so we short circuit that
  if ((stream._duplexState & WRITE_UPDATING) === 0) {
    this.update()
  } else {
    this.updateNextTick()
  }
}

function afterDestroy(err) {
  const stream = this.stream

  if (!err && !StreamError.isStreamDestroyed(this.error)) err = this.error
  if (err) stream.emit('error', err)

  stream._duplexState |= DESTROYED
  stream.emit('close')

  const rs = stream._readableState
  const ws = stream._writableState

  if (rs !== null && rs.pipeline !== null) {
    rs.pipeline.done(stream, err)
  }

  if (ws !== null) {
    while (ws.drains !== null && ws.drains.length > 0) {
      ws.drains.shift().resolve(false)
    }

    if (ws.pipeline !== null) {
      ws.pipeline.done(stream, err)
    }
  }
}

function afterWrite(err) {
  const stream = this.stream

  if (err) stream.destroy(err)
  stream._duplexState &= WRITE_NOT_ACTIVE

  if (this.drains !== null) tickDrains(this.drains)

  if ((stream._duplexState & WRITE_DRAIN_STATUS) === WRITE_UNDRAINED) {
    stream._duplexState &= WRITE_DRAINED

    if ((stream._duplexState & WRITE_EMIT_DRAIN) === WRITE_EMIT_DRAIN) {
      stream.emit('drain')
    }
  }

  this.updateCallback()
}

function afterRead(err) {
  if (err) this.stream.destroy(err)
  this.stream._duplexState &= READ_NOT_ACTIVE

  if (this.readAhead === false && (this.stream._duplexState & READ_RESUMED) === 0) {
    this.stream._duplexState &= READ_NO_READ_AHEAD
  }

  this.updateCallback()
}

function updateReadNT() {
  if ((this.stream._duplexState & READ_UPDATING) === 0) {
    this.stream._duplexState &= READ_NOT_NEXT_TICK
    this.update()
  }
}

function updateWriteNT() {
  if ((this.stream._duplexState & WRITE_UPDATING) === 0) {
    this.stream._duplexState &= WRITE_NOT_NEXT_TICK
    this.update()
  }
}

function tickDrains(drains) {
  for (let i = 0; i < drains.length; i++) {
    // drains.writes are monotonic, so if one is 0 its always the first one
    if (--drains[i].writes === 0) {
      drains.shift().resolve(true)
      i--
    }
  }
}

function afterOpen(err) {
  const stream = this.stream

  if (err) stream.destroy(err)

  if ((stream._duplexState & DESTROYING) === 0) {
    if ((stream._duplexState & READ_PRIMARY_STATUS) === 0) {
      stream._duplexState |= READ_PRIMARY
    }

    if ((stream._duplexState & WRITE_PRIMARY_STATUS) === 0) {
      stream._duplexState |= WRITE_PRIMARY
    }

    stream.emit('open')
  }

  stream._duplexState &= NOT_ACTIVE

  if (stream._writableState !== null) {
    stream._writableState.updateCallback()
  }

  if (stream._readableState !== null) {
    stream._readableState.updateCallback()
  }
}

function afterTransform(err, data) {
  if (data !== undefined && data !== null) this.push(data)
  this._writableState.afterWrite(err)
}

function newListener(name) {
  if (this._readableState !== null) {
    if (name === 'data') {
      this._duplexState |= READ_EMIT_DATA | READ_RESUMED_READ_AHEAD
      this._readableState.updateNextTick()
    }
    if (name === 'readable') {
      this._duplexState |= READ_EMIT_READABLE
      this._readableState.updateNextTick()
    }
  }

  if (this._writableState !== null) {
    if (name === 'drain') {
      this._duplexState |= WRITE_EMIT_DRAIN
      this._writableState.updateNextTick()
    }
  }
}

class Stream extends EventEmitter {
  constructor(opts) {
    super()

    this._duplexState = 0
    this._readableState = null
    this._writableState = null

    if (opts) {
      if (opts.open) this._open = opts.open
      if (opts.destroy) this._destroy = opts.destroy
      if (opts.predestroy) this._predestroy = opts.predestroy
      if (opts.signal) opts.signal.addEventListener('abort', abort.bind(this))
    }

    this.on('newListener', newListener)
  }

  _open(cb) {
    cb(null)
  }

  _destroy(cb) {
    cb(null)
  }

  _predestroy() {
    // does nothing
  }

  get readable() {
    return this._readableState !== null ? true : undefined
  }

  get writable() {
    return this._writableState !== null ? true : undefined
  }

  get destroyed() {
    return (this._duplexState & DESTROYED) !== 0
  }

  get destroying() {
    return (this._duplexState & DESTROY_STATUS) !== 0
  }

  destroy(err) {
    if ((this._duplexState & DESTROY_STATUS) === 0) {
      if (!err) err = StreamError.STREAM_DESTROYED()
      this._duplexState = (this._duplexState | DESTROYING) & NON_PRIMARY

      if (this._readableState !== null) {
        this._readableState.highWaterMark = 0
        this._readableState.error = err
      }

      if (this._writableState !== null) {
        this._writableState.highWaterMark = 0
        this._writableState.error = err
      }

      this._duplexState |= PREDESTROYING
      this._predestroy()
      this._duplexState &= NOT_PREDESTROYING

      if (this._readableState !== null) {
        this._readableState.updateNextTick()
      }

      if (this._writableState !== null) {
        this._writableState.updateNextTick()
      }
    }
  }
}

class Readable extends Stream {
  constructor(opts) {
    super(opts)

    this._duplexState |= OPENING | WRITE_DONE | READ_READ_AHEAD
    this._readableState = new ReadableState(this, opts)

    if (opts) {
      if (this._readableState.readAhead === false) this._duplexState &= READ_NO_READ_AHEAD
      if (opts.read) this._read = opts.read
      if (opts.eagerOpen) this._readableState.updateNextTick()
      if (opts.encoding) this.setEncoding(opts.encoding)
    }
  }

  static deferred(fn, opts) {
    const out = new PassThrough(opts)

    fn()
      .then((src) => {
        if (src === null) return out.end()
        if (out.destroying) return
        pipeline(src, out, noop)
      })
      .catch((err) => out.destroy(err))

    return out
  }

  setEncoding(encoding) {
    const dec = new TextDecoder(encoding)
    const map = this._readableState.map || echo
    this._readableState.map = mapOrSkip
    return this

    function mapOrSkip(data) {
      const next = dec.push(data)
      return next === '' && (data.byteLength !== 0 || dec.remaining > 0) ? null : map(next)
    }
  }

  _read(cb) {
    cb(null)
  }

  pipe(dest, cb) {
    this._readableState.updateNextTick()
    this._readableState.pipe(dest, cb)
    return dest
  }

  read() {
    this._readableState.updateNextTick()
    return this._readableState.read()
  }

  push(data) {
    this._readableState.updateNextTickIfOpen()
    return this._readableState.push(data)
  }

  unshift(data) {
    this._readableState.updateNextTickIfOpen()
    return this._readableState.unshift(data)
  }

  resume() {
    this._duplexState |= READ_RESUMED_READ_AHEAD
    this._readableState.updateNextTick()
    return this
  }

  pause() {
    this._duplexState &=
      this._readableState.readAhead === false ? READ_PAUSED_NO_READ_AHEAD : READ_PAUSED
    return this
  }

  static _fromAsyncIterator(ite, opts) {
    let destroy

    const rs = new Readable({
      ...opts,
      read(cb) {
        ite.next().then(push).then(cb.bind(null, null)).catch(cb)
      },
      predestroy() {
        destroy = ite.return()
      },
      destroy(cb) {
        if (!destroy) return cb(null)
        destroy.then(cb.bind(null, null)).catch(cb)
      }
    })

    return rs

    function push(data) {
      if (data.done) rs.push(null)
      else rs.push(data.value)
    }
  }

  static from(data, opts) {
    if (isReadStreamx(data)) return data
    if (data[asyncIterator]) return this._fromAsyncIterator(data[asyncIterator](), opts)
    if (!Array.isArray(data)) data = data === undefined ? [] : [data]

    let i = 0
    return new Readable({
      ...opts,
      read(cb) {
        this.push(i === data.length ? null : data[i++])
        cb(null)
      }
    })
  }

  static isBackpressured(rs) {
    return (
      (rs._duplexState & READ_BACKPRESSURE_STATUS) !== 0 ||
      rs._readableState.buffered >= rs._readableState.highWaterMark
    )
  }

  static isPaused(rs) {
    return (rs._duplexState & READ_RESUMED) === 0
  }

  [asyncIterator]() {
    const stream = this

    let error = null
    let promiseResolve = null
    let promiseReject = null

    this.on('error', (err) => {
      error = err
    })
    this.on('readable', onreadable)
    this.on('close', onclose)

    return {
      [asyncIterator]() {
        return this
      },
      next() {
        return new Promise(function (resolve, reject) {
          promiseResolve = resolve
          promiseReject = reject
          const data = stream.read()
          if (data !== null) ondata(data)
          else if ((stream._duplexState & DESTROYED) !== 0) ondata(null)
        })
      },
      return() {
        return destroy(null)
      },
      throw(err) {
        return destroy(err)
      }
    }

    function onreadable() {
      if (promiseResolve !== null) ondata(stream.read())
    }

    function onclose() {
      if (promiseResolve !== null) ondata(null)
    }

    function ondata(data) {
      if (promiseReject === null) return
      if (error) {
        promiseReject(error)
      } else if (data === null && (stream._duplexState & READ_DONE) === 0) {
        promiseReject(StreamError.STREAM_DESTROYED())
      } else {
        promiseResolve({ value: data, done: data === null })
      }
      promiseReject = promiseResolve = null
    }

    function destroy(err) {
      stream.destroy(err)
      return new Promise((resolve, reject) => {
        if (stream._duplexState & DESTROYED) return resolve({ value: undefined, done: true })
        stream.once('close', function () {
          if (err) reject(err)
          else resolve({ value: undefined, done: true })
        })
      })
    }
  }
}

class Writable extends Stream {
  constructor(opts) {
    super(opts)

    this._duplexState |= OPENING | READ_DONE
    this._writableState = new WritableState(this, opts)

    if (opts) {
      if (opts.writev) this._writev = opts.writev
      if (opts.write) this._write = opts.write
      if (opts.final) this._final = opts.final
      if (opts.eagerOpen) this._writableState.updateNextTick()
    }
  }

  cork() {
    this._duplexState |= WRITE_CORKED
  }

  uncork() {
    this._duplexState &= WRITE_NOT_CORKED
    this._writableState.updateNextTick()
  }

  _writev(batch, cb) {
    cb(null)
  }

  _write(data, cb) {
    this._writableState.autoBatch(data, cb)
  }

  _final(cb) {
    cb(null)
  }

  static isBackpressured(ws) {
    return (ws._duplexState & WRITE_BACKPRESSURE_STATUS) !== 0
  }

  static drained(ws) {
    if (ws.destroyed) return Promise.resolve(false)

    const state = ws._writableState
    const pending = isWritev(ws) ? Math.min(1, state.queue.length) : state.queue.length
    const writes = pending + (ws._duplexState & WRITE_WRITING ? 1 : 0)
    if (writes === 0) return Promise.resolve(true)

    if (state.drains === null) state.drains = []
    return new Promise((resolve) => {
      state.drains.push({ writes, resolve })
    })
  }

  write(data) {
    this._writableState.updateNextTick()
    return this._writableState.push(data)
  }

  end(data) {
    this._writableState.updateNextTick()
    this._writableState.end(data)
    return this
  }
}

class Duplex extends Readable {
  // and Writable
  constructor(opts) {
    super(opts)

    this._duplexState = OPENING | (this._duplexState & READ_READ_AHEAD)
    this._writableState = new WritableState(this, opts)

    if (opts) {
      if (opts.writev) this._writev = opts.writev
      if (opts.write) this._write = opts.write
      if (opts.final) this._final = opts.final
    }
  }

  cork() {
    this._duplexState |= WRITE_CORKED
  }

  uncork() {
    this._duplexState &= WRITE_NOT_CORKED
    this._writableState.updateNextTick()
  }

  _writev(batch, cb) {
    cb(null)
  }

  _write(data, cb) {
    this._writableState.autoBatch(data, cb)
  }

  _final(cb) {
    cb(null)
  }

  write(data) {
    this._writableState.updateNextTick()
    return this._writableState.push(data)
  }

  end(data) {
    this._writableState.updateNextTick()
    this._writableState.end(data)
    return this
  }
}

class Transform extends Duplex {
  constructor(opts) {
    super(opts)
    this._transformState = new TransformState(this)

    if (opts) {
      if (opts.transform) this._transform = opts.transform
      if (opts.flush) this._flush = opts.flush
    }
  }

  _write(data, cb) {
    if (this._readableState.buffered >= this._readableState.highWaterMark) {
      this._transformState.data = data
    } else {
      this._transform(data, this._transformState.afterTransform)
    }
  }

  _read(cb) {
    if (this._transformState.data !== null) {
      const data = this._transformState.data
      this._transformState.data = null
      cb(null)
      this._transform(data, this._transformState.afterTransform)
    } else {
      cb(null)
    }
  }

  destroy(err) {
    super.destroy(err)
    if (this._transformState.data !== null) {
      this._transformState.data = null
      this._transformState.afterTransform()
    }
  }

  _transform(data, cb) {
    cb(null, data)
  }

  _flush(cb) {
    cb(null)
  }

  _final(cb) {
    this._transformState.afterFinal = cb
    this._flush(transformAfterFlush.bind(this))
  }
}

class PassThrough extends Transform {}

function transformAfterFlush(err, data) {
  const cb = this._transformState.afterFinal
  if (err) return cb(err)

  if (data !== null && data !== undefined) this.push(data)
  this.push(null)
  cb(null)
}

function pipelinePromise(...streams) {
  return new Promise((resolve, reject) => {
    return pipeline(...streams, (err) => {
      if (err) return reject(err)
      resolve()
    })
  })
}

function pipeline(stream, ...streams) {
  const all = Array.isArray(stream) ? [...stream, ...streams] : [stream, ...streams]
  const done = all.length && typeof all[all.length - 1] === 'function' ? all.pop() : null

  if (all.length < 2) throw StreamError.BAD_ARGUMENT('Pipeline requires at least 2 streams')

  let src = all[0]
  let dest = null
  let error = null

  for (let i = 1; i < all.length; i++) {
    dest = all[i]

    if (isStreamx(src)) {
      src.pipe(dest, onerror)
    } else {
      errorHandle(src, true, i > 1, onerror)
      src.pipe(dest)
    }

    src = dest
  }

  if (done) {
    let fin = false

    const autoDestroy =
      isStreamx(dest) || !!(dest._writableState && dest._writableState.autoDestroy)

    dest.on('error', (err) => {
      if (error === null) error = err
    })

    dest.on('finish', () => {
      fin = true
      if (!autoDestroy) done(error)
    })

    if (autoDestroy) {
      dest.on('close', () => done(error || (fin ? null : StreamError.PREMATURE_CLOSE())))
    }
  }

  return dest

  function errorHandle(s, rd, wr, onerror) {
    s.on('error', onerror)
    s.on('close', onclose)

    function onclose() {
      if (rd && s._readableState && !s._readableState.ended) {
        return onerror(StreamError.PREMATURE_CLOSE())
      }
      if (wr && s._writableState && !s._writableState.ended) {
        return onerror(StreamError.PREMATURE_CLOSE())
      }
    }
  }

  function onerror(err) {
    if (!err || error) return
    error = err

    for (const s of all) {
      s.destroy(err)
    }
  }
}

function echo(s) {
  return s
}

function isStream(stream) {
  return !!stream._readableState || !!stream._writableState
}

function isStreamx(stream) {
  return typeof stream._duplexState === 'number' && isStream(stream)
}

function isEnding(stream) {
  return !!stream._readableState && stream._readableState.ending
}

function isEnded(stream) {
  return !!stream._readableState && stream._readableState.ended
}

function isFinishing(stream) {
  return !!stream._writableState && stream._writableState.ending
}

function isFinished(stream) {
  return !!stream._writableState && stream._writableState.ended
}

function getStreamError(stream, opts = {}) {
  const err =
    (stream._readableState && stream._readableState.error) ||
    (stream._writableState && stream._writableState.error)

  // avoid implicit errors by default
  return !opts.all && StreamError.isStreamDestroyed(err) ? null : err
}

function isReadStreamx(stream) {
  return isStreamx(stream) && stream.readable
}

function isDisturbed(stream) {
  return (
    (stream._duplexState & OPENING) !== OPENING ||
    (stream._duplexState & DESTROYING) === DESTROYING ||
    (stream._duplexState & ACTIVE_OR_TICKING) !== 0
  )
}

function isTypedArray(data) {
  return typeof data === 'object' && data !== null && typeof data.byteLength === 'number'
}

function defaultByteLength(data) {
  return isTypedArray(data) ? data.byteLength : 1024
}

function noop() {}

function abort() {
  this.destroy(StreamError.ABORTED())
}

function isWritev(s) {
  return s._writev !== Writable.prototype._writev && s._writev !== Duplex.prototype._writev
}

module.exports = {
  pipeline,
  pipelinePromise,
  isStream,
  isStreamx,
  isEnding,
  isEnded,
  isFinishing,
  isFinished,
  isDisturbed,
  getStreamError,
  Stream,
  Writable,
  Readable,
  Duplex,
  Transform,
  // Export PassThrough for compatibility with Node.js core's stream module
  PassThrough
}


/***/ }),

/***/ 3237:
/***/ ((module) => {

module.exports = class StreamError extends Error {
  constructor(msg, code, fn = StreamError) {
    super(msg)

    this.code = code

    if (Error.captureStackTrace) {
      Error.captureStackTrace(this, fn)
    }
  }

  static isStreamDestroyed(err) {
    return err && err.code === 'STREAM_DESTROYED'
  }

  static isPrematureClose(err) {
    return err && err.code === 'PREMATURE_CLOSE'
  }

  static isAborted(err) {
    return err && err.code === 'ABORTED'
  }

  static isBadArgument(err) {
    return err && err.code === 'BAD_ARGUMENT'
  }

  get name() {
    return 'StreamError'
  }

  static STREAM_DESTROYED() {
    return new StreamError('Stream was destroyed', 'STREAM_DESTROYED', StreamError.STREAM_DESTROYED)
  }

  static PREMATURE_CLOSE(msg = 'Premature close') {
    return new StreamError(msg, 'PREMATURE_CLOSE', StreamError.PREMATURE_CLOSE)
  }

  static ABORTED() {
    return new StreamError('Stream aborted', 'ABORTED', StreamError.ABORTED)
  }

  static BAD_ARGUMENT(msg = 'Bad argument') {
    return new StreamError(msg, 'BAD_ARGUMENT', StreamError.BAD_ARGUMENT)
  }
}


/***/ }),

/***/ 5531:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const constants = { // just for envs without fs
  S_IFMT: 61440,
  S_IFDIR: 16384,
  S_IFCHR: 8192,
  S_IFBLK: 24576,
  S_IFIFO: 4096,
  S_IFLNK: 40960
}

try {
  module.exports = (__nccwpck_require__(9896).constants) || constants
} catch {
  module.exports = constants
}


/***/ }),

/***/ 6919:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const { Writable, Readable, getStreamError } = __nccwpck_require__(8200)
const FIFO = __nccwpck_require__(6927)
const b4a = __nccwpck_require__(6173)
const headers = __nccwpck_require__(5472)

const EMPTY = b4a.alloc(0)
const MAX_HEADER_SIZE = 4 * 1024 * 1024 // arbitrary big number

class BufferList {
  constructor () {
    this.buffered = 0
    this.shifted = 0
    this.queue = new FIFO()

    this._offset = 0
  }

  push (buffer) {
    this.buffered += buffer.byteLength
    this.queue.push(buffer)
  }

  shiftFirst (size) {
    return this.buffered === 0 ? null : this._next(size)
  }

  shift (size) {
    if (size > this.buffered) return null
    if (size === 0) return EMPTY

    let chunk = this._next(size)

    if (size === chunk.byteLength) return chunk // likely case

    const chunks = [chunk]

    while ((size -= chunk.byteLength) > 0) {
      chunk = this._next(size)
      chunks.push(chunk)
    }

    return b4a.concat(chunks)
  }

  _next (size) {
    const buf = this.queue.peek()
    const rem = buf.byteLength - this._offset

    if (size >= rem) {
      const sub = this._offset ? buf.subarray(this._offset, buf.byteLength) : buf
      this.queue.shift()
      this._offset = 0
      this.buffered -= rem
      this.shifted += rem
      return sub
    }

    this.buffered -= size
    this.shifted += size

    return buf.subarray(this._offset, (this._offset += size))
  }
}

class Source extends Readable {
  constructor (self, header, offset) {
    super()

    this.header = header
    this.offset = offset

    this._parent = self
  }

  _read (cb) {
    if (this.header.size === 0) {
      this.push(null)
    }
    if (this._parent._stream === this) {
      this._parent._update()
    }
    cb(null)
  }

  _predestroy () {
    this._parent.destroy(getStreamError(this))
  }

  _detach () {
    if (this._parent._stream === this) {
      this._parent._stream = null
      this._parent._missing = overflow(this.header.size)
      this._parent._update()
    }
  }

  _destroy (cb) {
    this._detach()
    cb(null)
  }
}

class Extract extends Writable {
  constructor (opts) {
    super(opts)

    if (!opts) opts = {}

    this._buffer = new BufferList()
    this._offset = 0
    this._header = null
    this._stream = null
    this._missing = 0
    this._longHeader = false
    this._callback = noop
    this._locked = false
    this._finished = false
    this._pax = null
    this._paxGlobal = null
    this._gnuLongPath = null
    this._gnuLongLinkPath = null
    this._filenameEncoding = opts.filenameEncoding || 'utf-8'
    this._allowUnknownFormat = !!opts.allowUnknownFormat
    this._unlockBound = this._unlock.bind(this)
  }

  _unlock (err) {
    this._locked = false

    if (err) {
      this.destroy(err)
      this._continueWrite(err)
      return
    }

    this._update()
  }

  _consumeHeader () {
    if (this._locked) return false

    this._offset = this._buffer.shifted

    try {
      this._header = headers.decode(this._buffer.shift(512), this._filenameEncoding, this._allowUnknownFormat)
    } catch (err) {
      this._continueWrite(err)
      return false
    }

    if (!this._header) return true

    this._header.byteOffset = this._buffer.shifted

    switch (this._header.type) {
      case 'gnu-long-path':
      case 'gnu-long-link-path':
      case 'pax-global-header':
      case 'pax-header':
        this._longHeader = true
        this._missing = this._header.size
        if (this._missing > MAX_HEADER_SIZE) {
          this._continueWrite(new Error('Header exceeds max size'))
          return false
        }
        return true
    }

    this._locked = true
    this._applyLongHeaders()

    if (!(this._header.size >= 0)) {
      this._continueWrite(new Error('Invalid header'))
      return false
    }

    if (this._header.size === 0 || this._header.type === 'directory') {
      this.emit('entry', this._header, this._createStream(), this._unlockBound)
      return true
    }

    this._stream = this._createStream()
    this._missing = this._header.size

    this.emit('entry', this._header, this._stream, this._unlockBound)
    return true
  }

  _applyLongHeaders () {
    if (this._gnuLongPath) {
      this._header.name = this._gnuLongPath
      this._gnuLongPath = null
    }

    if (this._gnuLongLinkPath) {
      this._header.linkname = this._gnuLongLinkPath
      this._gnuLongLinkPath = null
    }

    if (this._pax) {
      if (this._pax.path) this._header.name = this._pax.path
      if (this._pax.linkpath) this._header.linkname = this._pax.linkpath
      if (this._pax.size) this._header.size = parseInt(this._pax.size, 10)
      this._header.pax = this._pax
      this._pax = null
    }
  }

  _decodeLongHeader (buf) {
    switch (this._header.type) {
      case 'gnu-long-path':
        this._gnuLongPath = headers.decodeLongPath(buf, this._filenameEncoding)
        break
      case 'gnu-long-link-path':
        this._gnuLongLinkPath = headers.decodeLongPath(buf, this._filenameEncoding)
        break
      case 'pax-global-header':
        this._paxGlobal = headers.decodePax(buf)
        break
      case 'pax-header':
        this._pax = this._paxGlobal === null
          ? headers.decodePax(buf)
          : Object.assign({}, this._paxGlobal, headers.decodePax(buf))
        break
    }
  }

  _consumeLongHeader () {
    this._longHeader = false
    this._missing = overflow(this._header.size)

    const buf = this._buffer.shift(this._header.size)

    try {
      this._decodeLongHeader(buf)
    } catch (err) {
      this._continueWrite(err)
      return false
    }

    return true
  }

  _consumeStream () {
    const buf = this._buffer.shiftFirst(this._missing)
    if (buf === null) return false

    this._missing -= buf.byteLength
    const drained = this._stream.push(buf)

    if (this._missing === 0) {
      this._stream.push(null)
      if (drained) this._stream._detach()
      return drained && this._locked === false
    }

    return drained
  }

  _createStream () {
    return new Source(this, this._header, this._offset)
  }

  _update () {
    while (this._buffer.buffered > 0 && !this.destroying) {
      if (this._missing > 0) {
        if (this._stream !== null) {
          if (this._consumeStream() === false) return
          continue
        }

        if (this._longHeader === true) {
          if (this._missing > this._buffer.buffered) break
          if (this._consumeLongHeader() === false) return false
          continue
        }

        const ignore = this._buffer.shiftFirst(this._missing)
        if (ignore !== null) this._missing -= ignore.byteLength
        continue
      }

      if (this._buffer.buffered < 512) break
      if (this._stream !== null || this._consumeHeader() === false) return
    }

    this._continueWrite(null)
  }

  _continueWrite (err) {
    const cb = this._callback
    this._callback = noop
    cb(err)
  }

  _write (data, cb) {
    this._callback = cb
    this._buffer.push(data)
    this._update()
  }

  _final (cb) {
    this._finished = this._missing === 0 && this._buffer.buffered === 0
    cb(this._finished ? null : new Error('Unexpected end of data'))
  }

  _predestroy () {
    this._continueWrite(null)
  }

  _destroy (cb) {
    if (this._stream) this._stream.destroy(getStreamError(this))
    cb(null)
  }

  [Symbol.asyncIterator] () {
    let error = null

    let promiseResolve = null
    let promiseReject = null

    let entryStream = null
    let entryCallback = null

    const extract = this

    this.on('entry', onentry)
    this.on('error', (err) => { error = err })
    this.on('close', onclose)

    return {
      [Symbol.asyncIterator] () {
        return this
      },
      next () {
        return new Promise(onnext)
      },
      return () {
        return destroy(null)
      },
      throw (err) {
        return destroy(err)
      }
    }

    function consumeCallback (err) {
      if (!entryCallback) return
      const cb = entryCallback
      entryCallback = null
      cb(err)
    }

    function onnext (resolve, reject) {
      if (error) {
        return reject(error)
      }

      if (entryStream) {
        resolve({ value: entryStream, done: false })
        entryStream = null
        return
      }

      promiseResolve = resolve
      promiseReject = reject

      consumeCallback(null)

      if (extract._finished && promiseResolve) {
        promiseResolve({ value: undefined, done: true })
        promiseResolve = promiseReject = null
      }
    }

    function onentry (header, stream, callback) {
      entryCallback = callback
      stream.on('error', noop) // no way around this due to tick sillyness

      if (promiseResolve) {
        promiseResolve({ value: stream, done: false })
        promiseResolve = promiseReject = null
      } else {
        entryStream = stream
      }
    }

    function onclose () {
      consumeCallback(error)
      if (!promiseResolve) return
      if (error) promiseReject(error)
      else promiseResolve({ value: undefined, done: true })
      promiseResolve = promiseReject = null
    }

    function destroy (err) {
      extract.destroy(err)
      consumeCallback(err)
      return new Promise((resolve, reject) => {
        if (extract.destroyed) return resolve({ value: undefined, done: true })
        extract.once('close', function () {
          if (err) reject(err)
          else resolve({ value: undefined, done: true })
        })
      })
    }
  }
}

module.exports = function extract (opts) {
  return new Extract(opts)
}

function noop () {}

function overflow (size) {
  size &= 511
  return size && 512 - size
}


/***/ }),

/***/ 5472:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {

const b4a = __nccwpck_require__(6173)

const ZEROS = '0000000000000000000'
const SEVENS = '7777777777777777777'
const ZERO_OFFSET = '0'.charCodeAt(0)
const USTAR_MAGIC = b4a.from([0x75, 0x73, 0x74, 0x61, 0x72, 0x00]) // ustar\x00
const USTAR_VER = b4a.from([ZERO_OFFSET, ZERO_OFFSET])
const GNU_MAGIC = b4a.from([0x75, 0x73, 0x74, 0x61, 0x72, 0x20]) // ustar\x20
const GNU_VER = b4a.from([0x20, 0x00])
const MASK = 0o7777
const MAGIC_OFFSET = 257
const VERSION_OFFSET = 263

exports.decodeLongPath = function decodeLongPath (buf, encoding) {
  return decodeStr(buf, 0, buf.length, encoding)
}

exports.encodePax = function encodePax (opts) { // TODO: encode more stuff in pax
  let result = ''
  if (opts.name) result += addLength(' path=' + opts.name + '\n')
  if (opts.linkname) result += addLength(' linkpath=' + opts.linkname + '\n')
  const pax = opts.pax
  if (pax) {
    for (const key in pax) {
      result += addLength(' ' + key + '=' + pax[key] + '\n')
    }
  }
  return b4a.from(result)
}

exports.decodePax = function decodePax (buf) {
  const result = {}

  while (buf.length) {
    let i = 0
    while (i < buf.length && buf[i] !== 32) i++
    const len = parseInt(b4a.toString(buf.subarray(0, i)), 10)
    if (!len) return result

    const b = b4a.toString(buf.subarray(i + 1, len - 1))
    const keyIndex = b.indexOf('=')
    if (keyIndex === -1) return result
    result[b.slice(0, keyIndex)] = b.slice(keyIndex + 1)

    buf = buf.subarray(len)
  }

  return result
}

exports.encode = function encode (opts) {
  const buf = b4a.alloc(512)
  let name = opts.name
  let prefix = ''

  if (opts.typeflag === 5 && name[name.length - 1] !== '/') name += '/'
  if (b4a.byteLength(name) !== name.length) return null // utf-8

  while (b4a.byteLength(name) > 100) {
    const i = name.indexOf('/')
    if (i === -1) return null
    prefix += prefix ? '/' + name.slice(0, i) : name.slice(0, i)
    name = name.slice(i + 1)
  }

  if (b4a.byteLength(name) > 100 || b4a.byteLength(prefix) > 155) return null
  if (opts.linkname && b4a.byteLength(opts.linkname) > 100) return null

  b4a.write(buf, name)
  b4a.write(buf, encodeOct(opts.mode & MASK, 6), 100)
  b4a.write(buf, encodeOct(opts.uid, 6), 108)
  b4a.write(buf, encodeOct(opts.gid, 6), 116)
  encodeSize(opts.size, buf, 124)
  b4a.write(buf, encodeOct((opts.mtime.getTime() / 1000) | 0, 11), 136)

  buf[156] = ZERO_OFFSET + toTypeflag(opts.type)

  if (opts.linkname) b4a.write(buf, opts.linkname, 157)

  b4a.copy(USTAR_MAGIC, buf, MAGIC_OFFSET)
  b4a.copy(USTAR_VER, buf, VERSION_OFFSET)
  if (opts.uname) b4a.write(buf, opts.uname, 265)
  if (opts.gname) b4a.write(buf, opts.gname, 297)
  b4a.write(buf, encodeOct(opts.devmajor || 0, 6), 329)
  b4a.write(buf, encodeOct(opts.devminor || 0, 6), 337)

  if (prefix) b4a.write(buf, prefix, 345)

  b4a.write(buf, encodeOct(cksum(buf), 6), 148)

  return buf
}

exports.decode = function decode (buf, filenameEncoding, allowUnknownFormat) {
  let typeflag = buf[156] === 0 ? 0 : buf[156] - ZERO_OFFSET

  let name = decodeStr(buf, 0, 100, filenameEncoding)
  const mode = decodeOct(buf, 100, 8)
  const uid = decodeOct(buf, 108, 8)
  const gid = decodeOct(buf, 116, 8)
  const size = decodeOct(buf, 124, 12)
  const mtime = decodeOct(buf, 136, 12)
  const type = toType(typeflag)
  const linkname = buf[157] === 0 ? null : decodeStr(buf, 157, 100, filenameEncoding)
  const uname = decodeStr(buf, 265, 32)
  const gname = decodeStr(buf, 297, 32)
  const devmajor = decodeOct(buf, 329, 8)
  const devminor = decodeOct(buf, 337, 8)

  const c = cksum(buf)

  // checksum is still initial value if header was null.
  if (c === 8 * 32) return null

  // valid checksum
  if (c !== decodeOct(buf, 148, 8)) throw new Error('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?')

  if (isUSTAR(buf)) {
    // ustar (posix) format.
    // prepend prefix, if present.
    if (buf[345]) name = decodeStr(buf, 345, 155, filenameEncoding) + '/' + name
  } else if (isGNU(buf)) {
    // 'gnu'/'oldgnu' format. Similar to ustar, but has support for incremental and
    // multi-volume tarballs.
  } else {
    if (!allowUnknownFormat) {
      throw new Error('Invalid tar header: unknown format.')
    }
  }

  // to support old tar versions that use trailing / to indicate dirs
  if (typeflag === 0 && name && name[name.length - 1] === '/') typeflag = 5

  return {
    name,
    mode,
    uid,
    gid,
    size,
    byteOffset: 0,
    mtime: new Date(1000 * mtime),
    type,
    linkname,
    uname,
    gname,
    devmajor,
    devminor,
    pax: null
  }
}

function isUSTAR (buf) {
  return b4a.equals(USTAR_MAGIC, buf.subarray(MAGIC_OFFSET, MAGIC_OFFSET + 6))
}

function isGNU (buf) {
  return b4a.equals(GNU_MAGIC, buf.subarray(MAGIC_OFFSET, MAGIC_OFFSET + 6)) &&
    b4a.equals(GNU_VER, buf.subarray(VERSION_OFFSET, VERSION_OFFSET + 2))
}

function clamp (index, len, defaultValue) {
  if (typeof index !== 'number') return defaultValue
  index = ~~index // Coerce to integer.
  if (index >= len) return len
  if (index >= 0) return index
  index += len
  if (index >= 0) return index
  return 0
}

function toType (flag) {
  switch (flag) {
    case 0:
      return 'file'
    case 1:
      return 'link'
    case 2:
      return 'symlink'
    case 3:
      return 'character-device'
    case 4:
      return 'block-device'
    case 5:
      return 'directory'
    case 6:
      return 'fifo'
    case 7:
      return 'contiguous-file'
    case 72:
      return 'pax-header'
    case 55:
      return 'pax-global-header'
    case 27:
      return 'gnu-long-link-path'
    case 28:
    case 30:
      return 'gnu-long-path'
  }

  return null
}

function toTypeflag (flag) {
  switch (flag) {
    case 'file':
      return 0
    case 'link':
      return 1
    case 'symlink':
      return 2
    case 'character-device':
      return 3
    case 'block-device':
      return 4
    case 'directory':
      return 5
    case 'fifo':
      return 6
    case 'contiguous-file':
      return 7
    case 'pax-header':
      return 72
  }

  return 0
}

function indexOf (block, num, offset, end) {
  for (; offset < end; offset++) {
    if (block[offset] === num) return offset
  }
  return end
}

function cksum (block) {
  let sum = 8 * 32
  for (let i = 0; i < 148; i++) sum += block[i]
  for (let j = 156; j < 512; j++) sum += block[j]
  return sum
}

function encodeOct (val, n) {
  val = val.toString(8)
  if (val.length > n) return SEVENS.slice(0, n) + ' '
  return ZEROS.slice(0, n - val.length) + val + ' '
}

function encodeSizeBin (num, buf, off) {
  buf[off] = 0x80
  for (let i = 11; i > 0; i--) {
    buf[off + i] = num & 0xff
    num = Math.floor(num / 0x100)
  }
}

function encodeSize (num, buf, off) {
  if (num.toString(8).length > 11) {
    encodeSizeBin(num, buf, off)
  } else {
    b4a.write(buf, encodeOct(num, 11), off)
  }
}

/* Copied from the node-tar repo and modified to meet
 * tar-stream coding standard.
 *
 * Source: https://github.com/npm/node-tar/blob/51b6627a1f357d2eb433e7378e5f05e83b7aa6cd/lib/header.js#L349
 */
function parse256 (buf) {
  // first byte MUST be either 80 or FF
  // 80 for positive, FF for 2's comp
  let positive
  if (buf[0] === 0x80) positive = true
  else if (buf[0] === 0xFF) positive = false
  else return null

  // build up a base-256 tuple from the least sig to the highest
  const tuple = []
  let i
  for (i = buf.length - 1; i > 0; i--) {
    const byte = buf[i]
    if (positive) tuple.push(byte)
    else tuple.push(0xFF - byte)
  }

  let sum = 0
  const l = tuple.length
  for (i = 0; i < l; i++) {
    sum += tuple[i] * Math.pow(256, i)
  }

  return positive ? sum : -1 * sum
}

function decodeOct (val, offset, length) {
  val = val.subarray(offset, offset + length)
  offset = 0

  // If prefixed with 0x80 then parse as a base-256 integer
  if (val[offset] & 0x80) {
    return parse256(val)
  } else {
    // Older versions of tar can prefix with spaces
    while (offset < val.length && val[offset] === 32) offset++
    const end = clamp(indexOf(val, 32, offset, val.length), val.length, val.length)
    while (offset < end && val[offset] === 0) offset++
    if (end === offset) return 0
    return parseInt(b4a.toString(val.subarray(offset, end)), 8)
  }
}

function decodeStr (val, offset, length, encoding) {
  return b4a.toString(val.subarray(offset, indexOf(val, 0, offset, offset + length)), encoding)
}

function addLength (str) {
  const len = b4a.byteLength(str)
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1
  if (len + digits >= Math.pow(10, digits)) digits++

  return (len + digits) + str
}


/***/ }),

/***/ 6474:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {

exports.extract = __nccwpck_require__(6919)
exports.pack = __nccwpck_require__(2257)


/***/ }),

/***/ 2257:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const { Readable, Writable, getStreamError } = __nccwpck_require__(8200)
const b4a = __nccwpck_require__(6173)

const constants = __nccwpck_require__(5531)
const headers = __nccwpck_require__(5472)

const DMODE = 0o755
const FMODE = 0o644

const END_OF_TAR = b4a.alloc(1024)

class Sink extends Writable {
  constructor (pack, header, callback) {
    super({ mapWritable, eagerOpen: true })

    this.written = 0
    this.header = header

    this._callback = callback
    this._linkname = null
    this._isLinkname = header.type === 'symlink' && !header.linkname
    this._isVoid = header.type !== 'file' && header.type !== 'contiguous-file'
    this._finished = false
    this._pack = pack
    this._openCallback = null

    if (this._pack._stream === null) this._pack._stream = this
    else this._pack._pending.push(this)
  }

  _open (cb) {
    this._openCallback = cb
    if (this._pack._stream === this) this._continueOpen()
  }

  _continuePack (err) {
    if (this._callback === null) return

    const callback = this._callback
    this._callback = null

    callback(err)
  }

  _continueOpen () {
    if (this._pack._stream === null) this._pack._stream = this

    const cb = this._openCallback
    this._openCallback = null
    if (cb === null) return

    if (this._pack.destroying) return cb(new Error('pack stream destroyed'))
    if (this._pack._finalized) return cb(new Error('pack stream is already finalized'))

    this._pack._stream = this

    if (!this._isLinkname) {
      this._pack._encode(this.header)
    }

    if (this._isVoid) {
      this._finish()
      this._continuePack(null)
    }

    cb(null)
  }

  _write (data, cb) {
    if (this._isLinkname) {
      this._linkname = this._linkname ? b4a.concat([this._linkname, data]) : data
      return cb(null)
    }

    if (this._isVoid) {
      if (data.byteLength > 0) {
        return cb(new Error('No body allowed for this entry'))
      }
      return cb()
    }

    this.written += data.byteLength
    if (this._pack.push(data)) return cb()
    this._pack._drain = cb
  }

  _finish () {
    if (this._finished) return
    this._finished = true

    if (this._isLinkname) {
      this.header.linkname = this._linkname ? b4a.toString(this._linkname, 'utf-8') : ''
      this._pack._encode(this.header)
    }

    overflow(this._pack, this.header.size)

    this._pack._done(this)
  }

  _final (cb) {
    if (this.written !== this.header.size) { // corrupting tar
      return cb(new Error('Size mismatch'))
    }

    this._finish()
    cb(null)
  }

  _getError () {
    return getStreamError(this) || new Error('tar entry destroyed')
  }

  _predestroy () {
    this._pack.destroy(this._getError())
  }

  _destroy (cb) {
    this._pack._done(this)

    this._continuePack(this._finished ? null : this._getError())

    cb()
  }
}

class Pack extends Readable {
  constructor (opts) {
    super(opts)
    this._drain = noop
    this._finalized = false
    this._finalizing = false
    this._pending = []
    this._stream = null
  }

  entry (header, buffer, callback) {
    if (this._finalized || this.destroying) throw new Error('already finalized or destroyed')

    if (typeof buffer === 'function') {
      callback = buffer
      buffer = null
    }

    if (!callback) callback = noop

    if (!header.size || header.type === 'symlink') header.size = 0
    if (!header.type) header.type = modeToType(header.mode)
    if (!header.mode) header.mode = header.type === 'directory' ? DMODE : FMODE
    if (!header.uid) header.uid = 0
    if (!header.gid) header.gid = 0
    if (!header.mtime) header.mtime = new Date()

    if (typeof buffer === 'string') buffer = b4a.from(buffer)

    const sink = new Sink(this, header, callback)

    if (b4a.isBuffer(buffer)) {
      header.size = buffer.byteLength
      sink.write(buffer)
      sink.end()
      return sink
    }

    if (sink._isVoid) {
      return sink
    }

    return sink
  }

  finalize () {
    if (this._stream || this._pending.length > 0) {
      this._finalizing = true
      return
    }

    if (this._finalized) return
    this._finalized = true

    this.push(END_OF_TAR)
    this.push(null)
  }

  _done (stream) {
    if (stream !== this._stream) return

    this._stream = null

    if (this._finalizing) this.finalize()
    if (this._pending.length) this._pending.shift()._continueOpen()
  }

  _encode (header) {
    if (!header.pax) {
      const buf = headers.encode(header)
      if (buf) {
        this.push(buf)
        return
      }
    }
    this._encodePax(header)
  }

  _encodePax (header) {
    const paxHeader = headers.encodePax({
      name: header.name,
      linkname: header.linkname,
      pax: header.pax
    })

    const newHeader = {
      name: 'PaxHeader',
      mode: header.mode,
      uid: header.uid,
      gid: header.gid,
      size: paxHeader.byteLength,
      mtime: header.mtime,
      type: 'pax-header',
      linkname: header.linkname && 'PaxHeader',
      uname: header.uname,
      gname: header.gname,
      devmajor: header.devmajor,
      devminor: header.devminor
    }

    this.push(headers.encode(newHeader))
    this.push(paxHeader)
    overflow(this, paxHeader.byteLength)

    newHeader.size = header.size
    newHeader.type = header.type
    this.push(headers.encode(newHeader))
  }

  _doDrain () {
    const drain = this._drain
    this._drain = noop
    drain()
  }

  _predestroy () {
    const err = getStreamError(this)

    if (this._stream) this._stream.destroy(err)

    while (this._pending.length) {
      const stream = this._pending.shift()
      stream.destroy(err)
      stream._continueOpen()
    }

    this._doDrain()
  }

  _read (cb) {
    this._doDrain()
    cb()
  }
}

module.exports = function pack (opts) {
  return new Pack(opts)
}

function modeToType (mode) {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFBLK: return 'block-device'
    case constants.S_IFCHR: return 'character-device'
    case constants.S_IFDIR: return 'directory'
    case constants.S_IFIFO: return 'fifo'
    case constants.S_IFLNK: return 'symlink'
  }

  return 'file'
}

function noop () {}

function overflow (self, size) {
  size &= 511
  if (size) self.push(END_OF_TAR.subarray(0, 512 - size))
}

function mapWritable (buf) {
  return b4a.isBuffer(buf) ? buf : b4a.from(buf)
}


/***/ }),

/***/ 1410:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const PassThroughDecoder = __nccwpck_require__(3524)
const UTF8Decoder = __nccwpck_require__(4554)

module.exports = class TextDecoder {
  constructor(encoding = 'utf8') {
    this.encoding = normalizeEncoding(encoding)

    switch (this.encoding) {
      case 'utf8':
        this.decoder = new UTF8Decoder()
        break
      case 'utf16le':
      case 'base64':
        throw new Error('Unsupported encoding: ' + this.encoding)
      default:
        this.decoder = new PassThroughDecoder(this.encoding)
    }
  }

  get remaining() {
    return this.decoder.remaining
  }

  push(data) {
    if (typeof data === 'string') return data
    return this.decoder.decode(data)
  }

  // For Node.js compatibility
  write(data) {
    return this.push(data)
  }

  end(data) {
    let result = ''
    if (data) result = this.push(data)
    result += this.decoder.flush()
    return result
  }
}

function normalizeEncoding(encoding) {
  encoding = encoding.toLowerCase()

  switch (encoding) {
    case 'utf8':
    case 'utf-8':
      return 'utf8'
    case 'ucs2':
    case 'ucs-2':
    case 'utf16le':
    case 'utf-16le':
      return 'utf16le'
    case 'latin1':
    case 'binary':
      return 'latin1'
    case 'base64':
    case 'ascii':
    case 'hex':
      return encoding
    default:
      throw new Error('Unknown encoding: ' + encoding)
  }
}


/***/ }),

/***/ 3524:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const b4a = __nccwpck_require__(6173)

module.exports = class PassThroughDecoder {
  constructor(encoding) {
    this.encoding = encoding
  }

  get remaining() {
    return 0
  }

  decode(data) {
    return b4a.toString(data, this.encoding)
  }

  flush() {
    return ''
  }
}


/***/ }),

/***/ 4554:
/***/ ((module, __unused_webpack_exports, __nccwpck_require__) => {

const b4a = __nccwpck_require__(6173)

/**
 * https://encoding.spec.whatwg.org/#utf-8-decoder
 */
module.exports = class UTF8Decoder {
  constructor() {
    this._reset()
  }

  get remaining() {
    return this.bytesSeen
  }

  decode(data) {
    if (data.byteLength === 0) return ''

    if (this.bytesNeeded === 0 && trailingIncomplete(data, 0) === 0) {
      this.bytesSeen = trailingBytesSeen(data)
      return b4a.toString(data, 'utf8')
    }

    let result = ''
    let start = 0

    if (this.bytesNeeded > 0) {
      while (start < data.byteLength) {
        const byte = data[start]

        if (byte < this.lowerBoundary || byte > this.upperBoundary) {
          result += '\ufffd'
          this._reset()
          break
        }

        this.lowerBoundary = 0x80
        this.upperBoundary = 0xbf
        this.codePoint = (this.codePoint << 6) | (byte & 0x3f)
        this.bytesSeen++
        start++

        if (this.bytesSeen === this.bytesNeeded) {
          result += String.fromCodePoint(this.codePoint)
          this._reset()
          break
        }
      }

      if (this.bytesNeeded > 0) return result
    }

    const trailing = trailingIncomplete(data, start)
    const end = data.byteLength - trailing

    if (end > start) result += b4a.toString(data, 'utf8', start, end)

    for (let i = end; i < data.byteLength; i++) {
      const byte = data[i]

      if (this.bytesNeeded === 0) {
        if (byte <= 0x7f) {
          this.bytesSeen = 0
          result += String.fromCharCode(byte)
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          this.bytesNeeded = 2
          this.bytesSeen = 1
          this.codePoint = byte & 0x1f
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.lowerBoundary = 0xa0
          else if (byte === 0xed) this.upperBoundary = 0x9f
          this.bytesNeeded = 3
          this.bytesSeen = 1
          this.codePoint = byte & 0xf
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.lowerBoundary = 0x90
          else if (byte === 0xf4) this.upperBoundary = 0x8f
          this.bytesNeeded = 4
          this.bytesSeen = 1
          this.codePoint = byte & 0x7
        } else {
          this.bytesSeen = 1
          result += '\ufffd'
        }

        continue
      }

      if (byte < this.lowerBoundary || byte > this.upperBoundary) {
        result += '\ufffd'
        i--
        this._reset()

        continue
      }

      this.lowerBoundary = 0x80
      this.upperBoundary = 0xbf

      this.codePoint = (this.codePoint << 6) | (byte & 0x3f)
      this.bytesSeen++

      if (this.bytesSeen === this.bytesNeeded) {
        result += String.fromCodePoint(this.codePoint)
        this._reset()
      }
    }

    return result
  }

  flush() {
    const result = this.bytesNeeded > 0 ? '\ufffd' : ''
    this._reset()
    return result
  }

  _reset() {
    this.codePoint = 0
    this.bytesNeeded = 0
    this.bytesSeen = 0
    this.lowerBoundary = 0x80
    this.upperBoundary = 0xbf
  }
}

function trailingIncomplete(data, start) {
  const len = data.byteLength
  if (len <= start) return 0

  const limit = Math.max(start, len - 4)

  let i = len - 1
  while (i > limit && (data[i] & 0xc0) === 0x80) i--

  if (i < start) return 0

  const byte = data[i]

  let needed
  if (byte <= 0x7f) return 0
  if (byte >= 0xc2 && byte <= 0xdf) needed = 2
  else if (byte >= 0xe0 && byte <= 0xef) needed = 3
  else if (byte >= 0xf0 && byte <= 0xf4) needed = 4
  else return 0

  const available = len - i
  return available < needed ? available : 0
}

function trailingBytesSeen(data) {
  const len = data.byteLength
  if (len === 0) return 0

  const last = data[len - 1]

  if (last <= 0x7f) return 0
  if ((last & 0xc0) !== 0x80) return 1

  const limit = Math.max(0, len - 4)

  let i = len - 2
  while (i >= limit && (data[i] & 0xc0) === 0x80) i--

  if (i < 0) return 1

  const first = data[i]

  let needed
  if (first >= 0xc2 && first <= 0xdf) needed = 2
  else if (first >= 0xe0 && first <= 0xef) needed = 3
  else if (first >= 0xf0 && first <= 0xf4) needed = 4
  else return 1

  if (len - i !== needed) return 1

  if (needed >= 3) {
    const second = data[i + 1]
    if (first === 0xe0 && second < 0xa0) return 1
    if (first === 0xed && second > 0x9f) return 1
    if (first === 0xf0 && second < 0x90) return 1
    if (first === 0xf4 && second > 0x8f) return 1
  }

  return 0
}


/***/ }),

/***/ 181:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("buffer");

/***/ }),

/***/ 4434:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("events");

/***/ }),

/***/ 9896:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("fs");

/***/ }),

/***/ 932:
/***/ ((module) => {

module.exports = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("process");

/***/ }),

/***/ 6745:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Scalar = __nccwpck_require__(4305);
var YAMLMap = __nccwpck_require__(2938);
var YAMLSeq = __nccwpck_require__(3571);
var resolveBlockMap = __nccwpck_require__(619);
var resolveBlockSeq = __nccwpck_require__(1610);
var resolveFlowCollection = __nccwpck_require__(562);

function resolveCollection(CN, ctx, token, onError, tagName, tag) {
    const coll = token.type === 'block-map'
        ? resolveBlockMap.resolveBlockMap(CN, ctx, token, onError, tag)
        : token.type === 'block-seq'
            ? resolveBlockSeq.resolveBlockSeq(CN, ctx, token, onError, tag)
            : resolveFlowCollection.resolveFlowCollection(CN, ctx, token, onError, tag);
    const Coll = coll.constructor;
    // If we got a tagName matching the class, or the tag name is '!',
    // then use the tagName from the node class used to create it.
    if (tagName === '!' || tagName === Coll.tagName) {
        coll.tag = Coll.tagName;
        return coll;
    }
    if (tagName)
        coll.tag = tagName;
    return coll;
}
function composeCollection(CN, ctx, token, props, onError) {
    const tagToken = props.tag;
    const tagName = !tagToken
        ? null
        : ctx.directives.tagName(tagToken.source, msg => onError(tagToken, 'TAG_RESOLVE_FAILED', msg));
    if (token.type === 'block-seq') {
        const { anchor, newlineAfterProp: nl } = props;
        const lastProp = anchor && tagToken
            ? anchor.offset > tagToken.offset
                ? anchor
                : tagToken
            : (anchor ?? tagToken);
        if (lastProp && (!nl || nl.offset < lastProp.offset)) {
            const message = 'Missing newline after block sequence props';
            onError(lastProp, 'MISSING_CHAR', message);
        }
    }
    const expType = token.type === 'block-map'
        ? 'map'
        : token.type === 'block-seq'
            ? 'seq'
            : token.start.source === '{'
                ? 'map'
                : 'seq';
    // shortcut: check if it's a generic YAMLMap or YAMLSeq
    // before jumping into the custom tag logic.
    if (!tagToken ||
        !tagName ||
        tagName === '!' ||
        (tagName === YAMLMap.YAMLMap.tagName && expType === 'map') ||
        (tagName === YAMLSeq.YAMLSeq.tagName && expType === 'seq')) {
        return resolveCollection(CN, ctx, token, onError, tagName);
    }
    let tag = ctx.schema.tags.find(t => t.tag === tagName && t.collection === expType);
    if (!tag) {
        const kt = ctx.schema.knownTags[tagName];
        if (kt?.collection === expType) {
            ctx.schema.tags.push(Object.assign({}, kt, { default: false }));
            tag = kt;
        }
        else {
            if (kt) {
                onError(tagToken, 'BAD_COLLECTION_TYPE', `${kt.tag} used for ${expType} collection, but expects ${kt.collection ?? 'scalar'}`, true);
            }
            else {
                onError(tagToken, 'TAG_RESOLVE_FAILED', `Unresolved tag: ${tagName}`, true);
            }
            return resolveCollection(CN, ctx, token, onError, tagName);
        }
    }
    const coll = resolveCollection(CN, ctx, token, onError, tagName, tag);
    const res = tag.resolve?.(coll, msg => onError(tagToken, 'TAG_RESOLVE_FAILED', msg), ctx.options) ?? coll;
    const node = identity.isNode(res)
        ? res
        : new Scalar.Scalar(res);
    node.range = coll.range;
    node.tag = tagName;
    if (tag?.format)
        node.format = tag.format;
    return node;
}

exports.composeCollection = composeCollection;


/***/ }),

/***/ 6183:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Document = __nccwpck_require__(7977);
var composeNode = __nccwpck_require__(413);
var resolveEnd = __nccwpck_require__(2368);
var resolveProps = __nccwpck_require__(6715);

function composeDoc(options, directives, { offset, start, value, end }, onError) {
    const opts = Object.assign({ _directives: directives }, options);
    const doc = new Document.Document(undefined, opts);
    const ctx = {
        atKey: false,
        atRoot: true,
        directives: doc.directives,
        options: doc.options,
        schema: doc.schema
    };
    const props = resolveProps.resolveProps(start, {
        indicator: 'doc-start',
        next: value ?? end?.[0],
        offset,
        onError,
        parentIndent: 0,
        startOnNewline: true
    });
    if (props.found) {
        doc.directives.docStart = true;
        if (value &&
            (value.type === 'block-map' || value.type === 'block-seq') &&
            !props.hasNewline)
            onError(props.end, 'MISSING_CHAR', 'Block collection cannot start on same line with directives-end marker');
    }
    // @ts-expect-error If Contents is set, let's trust the user
    doc.contents = value
        ? composeNode.composeNode(ctx, value, props, onError)
        : composeNode.composeEmptyNode(ctx, props.end, start, null, props, onError);
    const contentEnd = doc.contents.range[2];
    const re = resolveEnd.resolveEnd(end, contentEnd, false, onError);
    if (re.comment)
        doc.comment = re.comment;
    doc.range = [offset, contentEnd, re.offset];
    return doc;
}

exports.composeDoc = composeDoc;


/***/ }),

/***/ 413:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Alias = __nccwpck_require__(5525);
var identity = __nccwpck_require__(1891);
var composeCollection = __nccwpck_require__(6745);
var composeScalar = __nccwpck_require__(1337);
var resolveEnd = __nccwpck_require__(2368);
var utilEmptyScalarPosition = __nccwpck_require__(6827);

const CN = { composeNode, composeEmptyNode };
function composeNode(ctx, token, props, onError) {
    const atKey = ctx.atKey;
    const { spaceBefore, comment, anchor, tag } = props;
    let node;
    let isSrcToken = true;
    switch (token.type) {
        case 'alias':
            node = composeAlias(ctx, token, onError);
            if (anchor || tag)
                onError(token, 'ALIAS_PROPS', 'An alias node must not specify any properties');
            break;
        case 'scalar':
        case 'single-quoted-scalar':
        case 'double-quoted-scalar':
        case 'block-scalar':
            node = composeScalar.composeScalar(ctx, token, tag, onError);
            if (anchor)
                node.anchor = anchor.source.substring(1);
            break;
        case 'block-map':
        case 'block-seq':
        case 'flow-collection':
            try {
                node = composeCollection.composeCollection(CN, ctx, token, props, onError);
                if (anchor)
                    node.anchor = anchor.source.substring(1);
            }
            catch (error) {
                // Almost certainly here due to a stack overflow
                const message = error instanceof Error ? error.message : String(error);
                onError(token, 'RESOURCE_EXHAUSTION', message);
            }
            break;
        default: {
            const message = token.type === 'error'
                ? token.message
                : `Unsupported token (type: ${token.type})`;
            onError(token, 'UNEXPECTED_TOKEN', message);
            isSrcToken = false;
        }
    }
    node ?? (node = composeEmptyNode(ctx, token.offset, undefined, null, props, onError));
    if (anchor && node.anchor === '')
        onError(anchor, 'BAD_ALIAS', 'Anchor cannot be an empty string');
    if (atKey &&
        ctx.options.stringKeys &&
        (!identity.isScalar(node) ||
            typeof node.value !== 'string' ||
            (node.tag && node.tag !== 'tag:yaml.org,2002:str'))) {
        const msg = 'With stringKeys, all keys must be strings';
        onError(tag ?? token, 'NON_STRING_KEY', msg);
    }
    if (spaceBefore)
        node.spaceBefore = true;
    if (comment) {
        if (token.type === 'scalar' && token.source === '')
            node.comment = comment;
        else
            node.commentBefore = comment;
    }
    // @ts-expect-error Type checking misses meaning of isSrcToken
    if (ctx.options.keepSourceTokens && isSrcToken)
        node.srcToken = token;
    return node;
}
function composeEmptyNode(ctx, offset, before, pos, { spaceBefore, comment, anchor, tag, end }, onError) {
    const token = {
        type: 'scalar',
        offset: utilEmptyScalarPosition.emptyScalarPosition(offset, before, pos),
        indent: -1,
        source: ''
    };
    const node = composeScalar.composeScalar(ctx, token, tag, onError);
    if (anchor) {
        node.anchor = anchor.source.substring(1);
        if (node.anchor === '')
            onError(anchor, 'BAD_ALIAS', 'Anchor cannot be an empty string');
    }
    if (spaceBefore)
        node.spaceBefore = true;
    if (comment) {
        node.comment = comment;
        node.range[2] = end;
    }
    return node;
}
function composeAlias({ options }, { offset, source, end }, onError) {
    const alias = new Alias.Alias(source.substring(1));
    if (alias.source === '')
        onError(offset, 'BAD_ALIAS', 'Alias cannot be an empty string');
    if (alias.source.endsWith(':'))
        onError(offset + source.length - 1, 'BAD_ALIAS', 'Alias ending in : is ambiguous', true);
    const valueEnd = offset + source.length;
    const re = resolveEnd.resolveEnd(end, valueEnd, options.strict, onError);
    alias.range = [offset, valueEnd, re.offset];
    if (re.comment)
        alias.comment = re.comment;
    return alias;
}

exports.composeEmptyNode = composeEmptyNode;
exports.composeNode = composeNode;


/***/ }),

/***/ 1337:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Scalar = __nccwpck_require__(4305);
var resolveBlockScalar = __nccwpck_require__(293);
var resolveFlowScalar = __nccwpck_require__(7686);

function composeScalar(ctx, token, tagToken, onError) {
    const { value, type, comment, range } = token.type === 'block-scalar'
        ? resolveBlockScalar.resolveBlockScalar(ctx, token, onError)
        : resolveFlowScalar.resolveFlowScalar(token, ctx.options.strict, onError);
    const tagName = tagToken
        ? ctx.directives.tagName(tagToken.source, msg => onError(tagToken, 'TAG_RESOLVE_FAILED', msg))
        : null;
    let tag;
    if (ctx.options.stringKeys && ctx.atKey) {
        tag = ctx.schema[identity.SCALAR];
    }
    else if (tagName)
        tag = findScalarTagByName(ctx.schema, value, tagName, tagToken, onError);
    else if (token.type === 'scalar')
        tag = findScalarTagByTest(ctx, value, token, onError);
    else
        tag = ctx.schema[identity.SCALAR];
    let scalar;
    try {
        const res = tag.resolve(value, msg => onError(tagToken ?? token, 'TAG_RESOLVE_FAILED', msg), ctx.options);
        scalar = identity.isScalar(res) ? res : new Scalar.Scalar(res);
    }
    catch (error) {
        const msg = error instanceof Error ? error.message : String(error);
        onError(tagToken ?? token, 'TAG_RESOLVE_FAILED', msg);
        scalar = new Scalar.Scalar(value);
    }
    scalar.range = range;
    scalar.source = value;
    if (type)
        scalar.type = type;
    if (tagName)
        scalar.tag = tagName;
    if (tag.format)
        scalar.format = tag.format;
    if (comment)
        scalar.comment = comment;
    return scalar;
}
function findScalarTagByName(schema, value, tagName, tagToken, onError) {
    if (tagName === '!')
        return schema[identity.SCALAR]; // non-specific tag
    const matchWithTest = [];
    for (const tag of schema.tags) {
        if (!tag.collection && tag.tag === tagName) {
            if (tag.default && tag.test)
                matchWithTest.push(tag);
            else
                return tag;
        }
    }
    for (const tag of matchWithTest)
        if (tag.test?.test(value))
            return tag;
    const kt = schema.knownTags[tagName];
    if (kt && !kt.collection) {
        // Ensure that the known tag is available for stringifying,
        // but does not get used by default.
        schema.tags.push(Object.assign({}, kt, { default: false, test: undefined }));
        return kt;
    }
    onError(tagToken, 'TAG_RESOLVE_FAILED', `Unresolved tag: ${tagName}`, tagName !== 'tag:yaml.org,2002:str');
    return schema[identity.SCALAR];
}
function findScalarTagByTest({ atKey, directives, schema }, value, token, onError) {
    const tag = schema.tags.find(tag => (tag.default === true || (atKey && tag.default === 'key')) &&
        tag.test?.test(value)) || schema[identity.SCALAR];
    if (schema.compat) {
        const compat = schema.compat.find(tag => tag.default && tag.test?.test(value)) ??
            schema[identity.SCALAR];
        if (tag.tag !== compat.tag) {
            const ts = directives.tagString(tag.tag);
            const cs = directives.tagString(compat.tag);
            const msg = `Value may be parsed as either ${ts} or ${cs}`;
            onError(token, 'TAG_RESOLVE_FAILED', msg, true);
        }
    }
    return tag;
}

exports.composeScalar = composeScalar;


/***/ }),

/***/ 4260:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var node_process = __nccwpck_require__(932);
var directives = __nccwpck_require__(9082);
var Document = __nccwpck_require__(7977);
var errors = __nccwpck_require__(7460);
var identity = __nccwpck_require__(1891);
var composeDoc = __nccwpck_require__(6183);
var resolveEnd = __nccwpck_require__(2368);

function getErrorPos(src) {
    if (typeof src === 'number')
        return [src, src + 1];
    if (Array.isArray(src))
        return src.length === 2 ? src : [src[0], src[1]];
    const { offset, source } = src;
    return [offset, offset + (typeof source === 'string' ? source.length : 1)];
}
function parsePrelude(prelude) {
    let comment = '';
    let atComment = false;
    let afterEmptyLine = false;
    for (let i = 0; i < prelude.length; ++i) {
        const source = prelude[i];
        switch (source[0]) {
            case '#':
                comment +=
                    (comment === '' ? '' : afterEmptyLine ? '\n\n' : '\n') +
                        (source.substring(1) || ' ');
                atComment = true;
                afterEmptyLine = false;
                break;
            case '%':
                if (prelude[i + 1]?.[0] !== '#')
                    i += 1;
                atComment = false;
                break;
            default:
                // This may be wrong after doc-end, but in that case it doesn't matter
                if (!atComment)
                    afterEmptyLine = true;
                atComment = false;
        }
    }
    return { comment, afterEmptyLine };
}
/**
 * Compose a stream of CST nodes into a stream of YAML Documents.
 *
 * ```ts
 * import { Composer, Parser } from 'yaml'
 *
 * const src: string = ...
 * const tokens = new Parser().parse(src)
 * const docs = new Composer().compose(tokens)
 * ```
 */
class Composer {
    constructor(options = {}) {
        this.doc = null;
        this.atDirectives = false;
        this.prelude = [];
        this.errors = [];
        this.warnings = [];
        this.onError = (source, code, message, warning) => {
            const pos = getErrorPos(source);
            if (warning)
                this.warnings.push(new errors.YAMLWarning(pos, code, message));
            else
                this.errors.push(new errors.YAMLParseError(pos, code, message));
        };
        // eslint-disable-next-line @typescript-eslint/prefer-nullish-coalescing
        this.directives = new directives.Directives({ version: options.version || '1.2' });
        this.options = options;
    }
    decorate(doc, afterDoc) {
        const { comment, afterEmptyLine } = parsePrelude(this.prelude);
        //console.log({ dc: doc.comment, prelude, comment })
        if (comment) {
            const dc = doc.contents;
            if (afterDoc) {
                doc.comment = doc.comment ? `${doc.comment}\n${comment}` : comment;
            }
            else if (afterEmptyLine || doc.directives.docStart || !dc) {
                doc.commentBefore = comment;
            }
            else if (identity.isCollection(dc) && !dc.flow && dc.items.length > 0) {
                let it = dc.items[0];
                if (identity.isPair(it))
                    it = it.key;
                const cb = it.commentBefore;
                it.commentBefore = cb ? `${comment}\n${cb}` : comment;
            }
            else {
                const cb = dc.commentBefore;
                dc.commentBefore = cb ? `${comment}\n${cb}` : comment;
            }
        }
        if (afterDoc) {
            for (let i = 0; i < this.errors.length; ++i)
                doc.errors.push(this.errors[i]);
            for (let i = 0; i < this.warnings.length; ++i)
                doc.warnings.push(this.warnings[i]);
        }
        else {
            doc.errors = this.errors;
            doc.warnings = this.warnings;
        }
        this.prelude = [];
        this.errors = [];
        this.warnings = [];
    }
    /**
     * Current stream status information.
     *
     * Mostly useful at the end of input for an empty stream.
     */
    streamInfo() {
        return {
            comment: parsePrelude(this.prelude).comment,
            directives: this.directives,
            errors: this.errors,
            warnings: this.warnings
        };
    }
    /**
     * Compose tokens into documents.
     *
     * @param forceDoc - If the stream contains no document, still emit a final document including any comments and directives that would be applied to a subsequent document.
     * @param endOffset - Should be set if `forceDoc` is also set, to set the document range end and to indicate errors correctly.
     */
    *compose(tokens, forceDoc = false, endOffset = -1) {
        for (const token of tokens)
            yield* this.next(token);
        yield* this.end(forceDoc, endOffset);
    }
    /** Advance the composer by one CST token. */
    *next(token) {
        if (node_process.env.LOG_STREAM)
            console.dir(token, { depth: null });
        switch (token.type) {
            case 'directive':
                this.directives.add(token.source, (offset, message, warning) => {
                    const pos = getErrorPos(token);
                    pos[0] += offset;
                    this.onError(pos, 'BAD_DIRECTIVE', message, warning);
                });
                this.prelude.push(token.source);
                this.atDirectives = true;
                break;
            case 'document': {
                const doc = composeDoc.composeDoc(this.options, this.directives, token, this.onError);
                if (this.atDirectives && !doc.directives.docStart)
                    this.onError(token, 'MISSING_CHAR', 'Missing directives-end/doc-start indicator line');
                this.decorate(doc, false);
                if (this.doc)
                    yield this.doc;
                this.doc = doc;
                this.atDirectives = false;
                break;
            }
            case 'byte-order-mark':
            case 'space':
                break;
            case 'comment':
            case 'newline':
                this.prelude.push(token.source);
                break;
            case 'error': {
                const msg = token.source
                    ? `${token.message}: ${JSON.stringify(token.source)}`
                    : token.message;
                const error = new errors.YAMLParseError(getErrorPos(token), 'UNEXPECTED_TOKEN', msg);
                if (this.atDirectives || !this.doc)
                    this.errors.push(error);
                else
                    this.doc.errors.push(error);
                break;
            }
            case 'doc-end': {
                if (!this.doc) {
                    const msg = 'Unexpected doc-end without preceding document';
                    this.errors.push(new errors.YAMLParseError(getErrorPos(token), 'UNEXPECTED_TOKEN', msg));
                    break;
                }
                this.doc.directives.docEnd = true;
                const end = resolveEnd.resolveEnd(token.end, token.offset + token.source.length, this.doc.options.strict, this.onError);
                this.decorate(this.doc, true);
                if (end.comment) {
                    const dc = this.doc.comment;
                    this.doc.comment = dc ? `${dc}\n${end.comment}` : end.comment;
                }
                this.doc.range[2] = end.offset;
                break;
            }
            default:
                this.errors.push(new errors.YAMLParseError(getErrorPos(token), 'UNEXPECTED_TOKEN', `Unsupported token ${token.type}`));
        }
    }
    /**
     * Call at end of input to yield any remaining document.
     *
     * @param forceDoc - If the stream contains no document, still emit a final document including any comments and directives that would be applied to a subsequent document.
     * @param endOffset - Should be set if `forceDoc` is also set, to set the document range end and to indicate errors correctly.
     */
    *end(forceDoc = false, endOffset = -1) {
        if (this.doc) {
            this.decorate(this.doc, true);
            yield this.doc;
            this.doc = null;
        }
        else if (forceDoc) {
            const opts = Object.assign({ _directives: this.directives }, this.options);
            const doc = new Document.Document(undefined, opts);
            if (this.atDirectives)
                this.onError(endOffset, 'MISSING_CHAR', 'Missing directives-end indicator line');
            doc.range = [0, endOffset, endOffset];
            this.decorate(doc, false);
            yield doc;
        }
    }
}

exports.Composer = Composer;


/***/ }),

/***/ 619:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Pair = __nccwpck_require__(5153);
var YAMLMap = __nccwpck_require__(2938);
var resolveProps = __nccwpck_require__(6715);
var utilContainsNewline = __nccwpck_require__(3151);
var utilFlowIndentCheck = __nccwpck_require__(7319);
var utilMapIncludes = __nccwpck_require__(8279);

const startColMsg = 'All mapping items must start at the same column';
function resolveBlockMap({ composeNode, composeEmptyNode }, ctx, bm, onError, tag) {
    const NodeClass = tag?.nodeClass ?? YAMLMap.YAMLMap;
    const map = new NodeClass(ctx.schema);
    if (ctx.atRoot)
        ctx.atRoot = false;
    let offset = bm.offset;
    let commentEnd = null;
    for (const collItem of bm.items) {
        const { start, key, sep, value } = collItem;
        // key properties
        const keyProps = resolveProps.resolveProps(start, {
            indicator: 'explicit-key-ind',
            next: key ?? sep?.[0],
            offset,
            onError,
            parentIndent: bm.indent,
            startOnNewline: true
        });
        const implicitKey = !keyProps.found;
        if (implicitKey) {
            if (key) {
                if (key.type === 'block-seq')
                    onError(offset, 'BLOCK_AS_IMPLICIT_KEY', 'A block sequence may not be used as an implicit map key');
                else if ('indent' in key && key.indent !== bm.indent)
                    onError(offset, 'BAD_INDENT', startColMsg);
            }
            if (!keyProps.anchor && !keyProps.tag && !sep) {
                commentEnd = keyProps.end;
                if (keyProps.comment) {
                    if (map.comment)
                        map.comment += '\n' + keyProps.comment;
                    else
                        map.comment = keyProps.comment;
                }
                continue;
            }
            if (keyProps.newlineAfterProp || utilContainsNewline.containsNewline(key)) {
                onError(key ?? start[start.length - 1], 'MULTILINE_IMPLICIT_KEY', 'Implicit keys need to be on a single line');
            }
        }
        else if (keyProps.found?.indent !== bm.indent) {
            onError(offset, 'BAD_INDENT', startColMsg);
        }
        // key value
        ctx.atKey = true;
        const keyStart = keyProps.end;
        const keyNode = key
            ? composeNode(ctx, key, keyProps, onError)
            : composeEmptyNode(ctx, keyStart, start, null, keyProps, onError);
        if (ctx.schema.compat)
            utilFlowIndentCheck.flowIndentCheck(bm.indent, key, onError);
        ctx.atKey = false;
        if (utilMapIncludes.mapIncludes(ctx, map.items, keyNode))
            onError(keyStart, 'DUPLICATE_KEY', 'Map keys must be unique');
        // value properties
        const valueProps = resolveProps.resolveProps(sep ?? [], {
            indicator: 'map-value-ind',
            next: value,
            offset: keyNode.range[2],
            onError,
            parentIndent: bm.indent,
            startOnNewline: !key || key.type === 'block-scalar'
        });
        offset = valueProps.end;
        if (valueProps.found) {
            if (implicitKey) {
                if (value?.type === 'block-map' && !valueProps.hasNewline)
                    onError(offset, 'BLOCK_AS_IMPLICIT_KEY', 'Nested mappings are not allowed in compact mappings');
                if (ctx.options.strict &&
                    keyProps.start < valueProps.found.offset - 1024)
                    onError(keyNode.range, 'KEY_OVER_1024_CHARS', 'The : indicator must be at most 1024 chars after the start of an implicit block mapping key');
            }
            // value value
            const valueNode = value
                ? composeNode(ctx, value, valueProps, onError)
                : composeEmptyNode(ctx, offset, sep, null, valueProps, onError);
            if (ctx.schema.compat)
                utilFlowIndentCheck.flowIndentCheck(bm.indent, value, onError);
            offset = valueNode.range[2];
            const pair = new Pair.Pair(keyNode, valueNode);
            if (ctx.options.keepSourceTokens)
                pair.srcToken = collItem;
            map.items.push(pair);
        }
        else {
            // key with no value
            if (implicitKey)
                onError(keyNode.range, 'MISSING_CHAR', 'Implicit map keys need to be followed by map values');
            if (valueProps.comment) {
                if (keyNode.comment)
                    keyNode.comment += '\n' + valueProps.comment;
                else
                    keyNode.comment = valueProps.comment;
            }
            const pair = new Pair.Pair(keyNode);
            if (ctx.options.keepSourceTokens)
                pair.srcToken = collItem;
            map.items.push(pair);
        }
    }
    if (commentEnd && commentEnd < offset)
        onError(commentEnd, 'IMPOSSIBLE', 'Map comment with trailing content');
    map.range = [bm.offset, offset, commentEnd ?? offset];
    return map;
}

exports.resolveBlockMap = resolveBlockMap;


/***/ }),

/***/ 293:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);

function resolveBlockScalar(ctx, scalar, onError) {
    const start = scalar.offset;
    const header = parseBlockScalarHeader(scalar, ctx.options.strict, onError);
    if (!header)
        return { value: '', type: null, comment: '', range: [start, start, start] };
    const type = header.mode === '>' ? Scalar.Scalar.BLOCK_FOLDED : Scalar.Scalar.BLOCK_LITERAL;
    const lines = scalar.source ? splitLines(scalar.source) : [];
    // determine the end of content & start of chomping
    let chompStart = lines.length;
    for (let i = lines.length - 1; i >= 0; --i) {
        const content = lines[i][1];
        if (content === '' || content === '\r')
            chompStart = i;
        else
            break;
    }
    // shortcut for empty contents
    if (chompStart === 0) {
        const value = header.chomp === '+' && lines.length > 0
            ? '\n'.repeat(Math.max(1, lines.length - 1))
            : '';
        let end = start + header.length;
        if (scalar.source)
            end += scalar.source.length;
        return { value, type, comment: header.comment, range: [start, end, end] };
    }
    // find the indentation level to trim from start
    let trimIndent = scalar.indent + header.indent;
    let offset = scalar.offset + header.length;
    let contentStart = 0;
    for (let i = 0; i < chompStart; ++i) {
        const [indent, content] = lines[i];
        if (content === '' || content === '\r') {
            if (header.indent === 0 && indent.length > trimIndent)
                trimIndent = indent.length;
        }
        else {
            if (indent.length < trimIndent) {
                const message = 'Block scalars with more-indented leading empty lines must use an explicit indentation indicator';
                onError(offset + indent.length, 'MISSING_CHAR', message);
            }
            if (header.indent === 0)
                trimIndent = indent.length;
            contentStart = i;
            if (trimIndent === 0 && !ctx.atRoot) {
                const message = 'Block scalar values in collections must be indented';
                onError(offset, 'BAD_INDENT', message);
            }
            break;
        }
        offset += indent.length + content.length + 1;
    }
    // include trailing more-indented empty lines in content
    for (let i = lines.length - 1; i >= chompStart; --i) {
        if (lines[i][0].length > trimIndent)
            chompStart = i + 1;
    }
    let value = '';
    let sep = '';
    let prevMoreIndented = false;
    // leading whitespace is kept intact
    for (let i = 0; i < contentStart; ++i)
        value += lines[i][0].slice(trimIndent) + '\n';
    for (let i = contentStart; i < chompStart; ++i) {
        let [indent, content] = lines[i];
        offset += indent.length + content.length + 1;
        const crlf = content[content.length - 1] === '\r';
        if (crlf)
            content = content.slice(0, -1);
        /* istanbul ignore if already caught in lexer */
        if (content && indent.length < trimIndent) {
            const src = header.indent
                ? 'explicit indentation indicator'
                : 'first line';
            const message = `Block scalar lines must not be less indented than their ${src}`;
            onError(offset - content.length - (crlf ? 2 : 1), 'BAD_INDENT', message);
            indent = '';
        }
        if (type === Scalar.Scalar.BLOCK_LITERAL) {
            value += sep + indent.slice(trimIndent) + content;
            sep = '\n';
        }
        else if (indent.length > trimIndent || content[0] === '\t') {
            // more-indented content within a folded block
            if (sep === ' ')
                sep = '\n';
            else if (!prevMoreIndented && sep === '\n')
                sep = '\n\n';
            value += sep + indent.slice(trimIndent) + content;
            sep = '\n';
            prevMoreIndented = true;
        }
        else if (content === '') {
            // empty line
            if (sep === '\n')
                value += '\n';
            else
                sep = '\n';
        }
        else {
            value += sep + content;
            sep = ' ';
            prevMoreIndented = false;
        }
    }
    switch (header.chomp) {
        case '-':
            break;
        case '+':
            for (let i = chompStart; i < lines.length; ++i)
                value += '\n' + lines[i][0].slice(trimIndent);
            if (value[value.length - 1] !== '\n')
                value += '\n';
            break;
        default:
            value += '\n';
    }
    const end = start + header.length + scalar.source.length;
    return { value, type, comment: header.comment, range: [start, end, end] };
}
function parseBlockScalarHeader({ offset, props }, strict, onError) {
    /* istanbul ignore if should not happen */
    if (props[0].type !== 'block-scalar-header') {
        onError(props[0], 'IMPOSSIBLE', 'Block scalar header not found');
        return null;
    }
    const { source } = props[0];
    const mode = source[0];
    let indent = 0;
    let chomp = '';
    let error = -1;
    for (let i = 1; i < source.length; ++i) {
        const ch = source[i];
        if (!chomp && (ch === '-' || ch === '+'))
            chomp = ch;
        else {
            const n = Number(ch);
            if (!indent && n)
                indent = n;
            else if (error === -1)
                error = offset + i;
        }
    }
    if (error !== -1)
        onError(error, 'UNEXPECTED_TOKEN', `Block scalar header includes extra characters: ${source}`);
    let hasSpace = false;
    let comment = '';
    let length = source.length;
    for (let i = 1; i < props.length; ++i) {
        const token = props[i];
        switch (token.type) {
            case 'space':
                hasSpace = true;
            // fallthrough
            case 'newline':
                length += token.source.length;
                break;
            case 'comment':
                if (strict && !hasSpace) {
                    const message = 'Comments must be separated from other tokens by white space characters';
                    onError(token, 'MISSING_CHAR', message);
                }
                length += token.source.length;
                comment = token.source.substring(1);
                break;
            case 'error':
                onError(token, 'UNEXPECTED_TOKEN', token.message);
                length += token.source.length;
                break;
            /* istanbul ignore next should not happen */
            default: {
                const message = `Unexpected token in block scalar header: ${token.type}`;
                onError(token, 'UNEXPECTED_TOKEN', message);
                const ts = token.source;
                if (ts && typeof ts === 'string')
                    length += ts.length;
            }
        }
    }
    return { mode, indent, chomp, comment, length };
}
/** @returns Array of lines split up as `[indent, content]` */
function splitLines(source) {
    const split = source.split(/\n( *)/);
    const first = split[0];
    const m = first.match(/^( *)/);
    const line0 = m?.[1]
        ? [m[1], first.slice(m[1].length)]
        : ['', first];
    const lines = [line0];
    for (let i = 1; i < split.length; i += 2)
        lines.push([split[i], split[i + 1]]);
    return lines;
}

exports.resolveBlockScalar = resolveBlockScalar;


/***/ }),

/***/ 1610:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var YAMLSeq = __nccwpck_require__(3571);
var resolveProps = __nccwpck_require__(6715);
var utilFlowIndentCheck = __nccwpck_require__(7319);

function resolveBlockSeq({ composeNode, composeEmptyNode }, ctx, bs, onError, tag) {
    const NodeClass = tag?.nodeClass ?? YAMLSeq.YAMLSeq;
    const seq = new NodeClass(ctx.schema);
    if (ctx.atRoot)
        ctx.atRoot = false;
    if (ctx.atKey)
        ctx.atKey = false;
    let offset = bs.offset;
    let commentEnd = null;
    for (const { start, value } of bs.items) {
        const props = resolveProps.resolveProps(start, {
            indicator: 'seq-item-ind',
            next: value,
            offset,
            onError,
            parentIndent: bs.indent,
            startOnNewline: true
        });
        if (!props.found) {
            if (props.anchor || props.tag || value) {
                if (value?.type === 'block-seq')
                    onError(props.end, 'BAD_INDENT', 'All sequence items must start at the same column');
                else
                    onError(offset, 'MISSING_CHAR', 'Sequence item without - indicator');
            }
            else {
                commentEnd = props.end;
                if (props.comment)
                    seq.comment = props.comment;
                continue;
            }
        }
        const node = value
            ? composeNode(ctx, value, props, onError)
            : composeEmptyNode(ctx, props.end, start, null, props, onError);
        if (ctx.schema.compat)
            utilFlowIndentCheck.flowIndentCheck(bs.indent, value, onError);
        offset = node.range[2];
        seq.items.push(node);
    }
    seq.range = [bs.offset, offset, commentEnd ?? offset];
    return seq;
}

exports.resolveBlockSeq = resolveBlockSeq;


/***/ }),

/***/ 2368:
/***/ ((__unused_webpack_module, exports) => {



function resolveEnd(end, offset, reqSpace, onError) {
    let comment = '';
    if (end) {
        let hasSpace = false;
        let sep = '';
        for (const token of end) {
            const { source, type } = token;
            switch (type) {
                case 'space':
                    hasSpace = true;
                    break;
                case 'comment': {
                    if (reqSpace && !hasSpace)
                        onError(token, 'MISSING_CHAR', 'Comments must be separated from other tokens by white space characters');
                    const cb = source.substring(1) || ' ';
                    if (!comment)
                        comment = cb;
                    else
                        comment += sep + cb;
                    sep = '';
                    break;
                }
                case 'newline':
                    if (comment)
                        sep += source;
                    hasSpace = true;
                    break;
                default:
                    onError(token, 'UNEXPECTED_TOKEN', `Unexpected ${type} at node end`);
            }
            offset += source.length;
        }
    }
    return { comment, offset };
}

exports.resolveEnd = resolveEnd;


/***/ }),

/***/ 562:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Pair = __nccwpck_require__(5153);
var YAMLMap = __nccwpck_require__(2938);
var YAMLSeq = __nccwpck_require__(3571);
var resolveEnd = __nccwpck_require__(2368);
var resolveProps = __nccwpck_require__(6715);
var utilContainsNewline = __nccwpck_require__(3151);
var utilMapIncludes = __nccwpck_require__(8279);

const blockMsg = 'Block collections are not allowed within flow collections';
const isBlock = (token) => token && (token.type === 'block-map' || token.type === 'block-seq');
function resolveFlowCollection({ composeNode, composeEmptyNode }, ctx, fc, onError, tag) {
    const isMap = fc.start.source === '{';
    const fcName = isMap ? 'flow map' : 'flow sequence';
    const NodeClass = (tag?.nodeClass ?? (isMap ? YAMLMap.YAMLMap : YAMLSeq.YAMLSeq));
    const coll = new NodeClass(ctx.schema);
    coll.flow = true;
    const atRoot = ctx.atRoot;
    if (atRoot)
        ctx.atRoot = false;
    if (ctx.atKey)
        ctx.atKey = false;
    let offset = fc.offset + fc.start.source.length;
    for (let i = 0; i < fc.items.length; ++i) {
        const collItem = fc.items[i];
        const { start, key, sep, value } = collItem;
        const props = resolveProps.resolveProps(start, {
            flow: fcName,
            indicator: 'explicit-key-ind',
            next: key ?? sep?.[0],
            offset,
            onError,
            parentIndent: fc.indent,
            startOnNewline: false
        });
        if (!props.found) {
            if (!props.anchor && !props.tag && !sep && !value) {
                if (i === 0 && props.comma)
                    onError(props.comma, 'UNEXPECTED_TOKEN', `Unexpected , in ${fcName}`);
                else if (i < fc.items.length - 1)
                    onError(props.start, 'UNEXPECTED_TOKEN', `Unexpected empty item in ${fcName}`);
                if (props.comment) {
                    if (coll.comment)
                        coll.comment += '\n' + props.comment;
                    else
                        coll.comment = props.comment;
                }
                offset = props.end;
                continue;
            }
            if (!isMap && ctx.options.strict && utilContainsNewline.containsNewline(key))
                onError(key, // checked by containsNewline()
                'MULTILINE_IMPLICIT_KEY', 'Implicit keys of flow sequence pairs need to be on a single line');
        }
        if (i === 0) {
            if (props.comma)
                onError(props.comma, 'UNEXPECTED_TOKEN', `Unexpected , in ${fcName}`);
        }
        else {
            if (!props.comma)
                onError(props.start, 'MISSING_CHAR', `Missing , between ${fcName} items`);
            if (props.comment) {
                let prevItemComment = '';
                loop: for (const st of start) {
                    switch (st.type) {
                        case 'comma':
                        case 'space':
                            break;
                        case 'comment':
                            prevItemComment = st.source.substring(1);
                            break loop;
                        default:
                            break loop;
                    }
                }
                if (prevItemComment) {
                    let prev = coll.items[coll.items.length - 1];
                    if (identity.isPair(prev))
                        prev = prev.value ?? prev.key;
                    if (prev.comment)
                        prev.comment += '\n' + prevItemComment;
                    else
                        prev.comment = prevItemComment;
                    props.comment = props.comment.substring(prevItemComment.length + 1);
                }
            }
        }
        if (!isMap && !sep && !props.found) {
            // item is a value in a seq
            // → key & sep are empty, start does not include ? or :
            const valueNode = value
                ? composeNode(ctx, value, props, onError)
                : composeEmptyNode(ctx, props.end, sep, null, props, onError);
            coll.items.push(valueNode);
            offset = valueNode.range[2];
            if (isBlock(value))
                onError(valueNode.range, 'BLOCK_IN_FLOW', blockMsg);
        }
        else {
            // item is a key+value pair
            // key value
            ctx.atKey = true;
            const keyStart = props.end;
            const keyNode = key
                ? composeNode(ctx, key, props, onError)
                : composeEmptyNode(ctx, keyStart, start, null, props, onError);
            if (isBlock(key))
                onError(keyNode.range, 'BLOCK_IN_FLOW', blockMsg);
            ctx.atKey = false;
            // value properties
            const valueProps = resolveProps.resolveProps(sep ?? [], {
                flow: fcName,
                indicator: 'map-value-ind',
                next: value,
                offset: keyNode.range[2],
                onError,
                parentIndent: fc.indent,
                startOnNewline: false
            });
            if (valueProps.found) {
                if (!isMap && !props.found && ctx.options.strict) {
                    if (sep)
                        for (const st of sep) {
                            if (st === valueProps.found)
                                break;
                            if (st.type === 'newline') {
                                onError(st, 'MULTILINE_IMPLICIT_KEY', 'Implicit keys of flow sequence pairs need to be on a single line');
                                break;
                            }
                        }
                    if (props.start < valueProps.found.offset - 1024)
                        onError(valueProps.found, 'KEY_OVER_1024_CHARS', 'The : indicator must be at most 1024 chars after the start of an implicit flow sequence key');
                }
            }
            else if (value) {
                if ('source' in value && value.source?.[0] === ':')
                    onError(value, 'MISSING_CHAR', `Missing space after : in ${fcName}`);
                else
                    onError(valueProps.start, 'MISSING_CHAR', `Missing , or : between ${fcName} items`);
            }
            // value value
            const valueNode = value
                ? composeNode(ctx, value, valueProps, onError)
                : valueProps.found
                    ? composeEmptyNode(ctx, valueProps.end, sep, null, valueProps, onError)
                    : null;
            if (valueNode) {
                if (isBlock(value))
                    onError(valueNode.range, 'BLOCK_IN_FLOW', blockMsg);
            }
            else if (valueProps.comment) {
                if (keyNode.comment)
                    keyNode.comment += '\n' + valueProps.comment;
                else
                    keyNode.comment = valueProps.comment;
            }
            const pair = new Pair.Pair(keyNode, valueNode);
            if (ctx.options.keepSourceTokens)
                pair.srcToken = collItem;
            if (isMap) {
                const map = coll;
                if (utilMapIncludes.mapIncludes(ctx, map.items, keyNode))
                    onError(keyStart, 'DUPLICATE_KEY', 'Map keys must be unique');
                map.items.push(pair);
            }
            else {
                const map = new YAMLMap.YAMLMap(ctx.schema);
                map.flow = true;
                map.items.push(pair);
                const endRange = (valueNode ?? keyNode).range;
                map.range = [keyNode.range[0], endRange[1], endRange[2]];
                coll.items.push(map);
            }
            offset = valueNode ? valueNode.range[2] : valueProps.end;
        }
    }
    const expectedEnd = isMap ? '}' : ']';
    const [ce, ...ee] = fc.end;
    let cePos = offset;
    if (ce?.source === expectedEnd)
        cePos = ce.offset + ce.source.length;
    else {
        const name = fcName[0].toUpperCase() + fcName.substring(1);
        const msg = atRoot
            ? `${name} must end with a ${expectedEnd}`
            : `${name} in block collection must be sufficiently indented and end with a ${expectedEnd}`;
        onError(offset, atRoot ? 'MISSING_CHAR' : 'BAD_INDENT', msg);
        if (ce && ce.source.length !== 1)
            ee.unshift(ce);
    }
    if (ee.length > 0) {
        const end = resolveEnd.resolveEnd(ee, cePos, ctx.options.strict, onError);
        if (end.comment) {
            if (coll.comment)
                coll.comment += '\n' + end.comment;
            else
                coll.comment = end.comment;
        }
        coll.range = [fc.offset, cePos, end.offset];
    }
    else {
        coll.range = [fc.offset, cePos, cePos];
    }
    return coll;
}

exports.resolveFlowCollection = resolveFlowCollection;


/***/ }),

/***/ 7686:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);
var resolveEnd = __nccwpck_require__(2368);

function resolveFlowScalar(scalar, strict, onError) {
    const { offset, type, source, end } = scalar;
    let _type;
    let value;
    const _onError = (rel, code, msg) => onError(offset + rel, code, msg);
    switch (type) {
        case 'scalar':
            _type = Scalar.Scalar.PLAIN;
            value = plainValue(source, _onError);
            break;
        case 'single-quoted-scalar':
            _type = Scalar.Scalar.QUOTE_SINGLE;
            value = singleQuotedValue(source, _onError);
            break;
        case 'double-quoted-scalar':
            _type = Scalar.Scalar.QUOTE_DOUBLE;
            value = doubleQuotedValue(source, _onError);
            break;
        /* istanbul ignore next should not happen */
        default:
            onError(scalar, 'UNEXPECTED_TOKEN', `Expected a flow scalar value, but found: ${type}`);
            return {
                value: '',
                type: null,
                comment: '',
                range: [offset, offset + source.length, offset + source.length]
            };
    }
    const valueEnd = offset + source.length;
    const re = resolveEnd.resolveEnd(end, valueEnd, strict, onError);
    return {
        value,
        type: _type,
        comment: re.comment,
        range: [offset, valueEnd, re.offset]
    };
}
function plainValue(source, onError) {
    let badChar = '';
    switch (source[0]) {
        /* istanbul ignore next should not happen */
        case '\t':
            badChar = 'a tab character';
            break;
        case ',':
            badChar = 'flow indicator character ,';
            break;
        case '%':
            badChar = 'directive indicator character %';
            break;
        case '|':
        case '>': {
            badChar = `block scalar indicator ${source[0]}`;
            break;
        }
        case '@':
        case '`': {
            badChar = `reserved character ${source[0]}`;
            break;
        }
    }
    if (badChar)
        onError(0, 'BAD_SCALAR_START', `Plain value cannot start with ${badChar}`);
    return unfoldLines(source);
}
function singleQuotedValue(source, onError) {
    if (source[source.length - 1] !== "'" || source.length === 1)
        onError(source.length, 'MISSING_CHAR', "Missing closing 'quote");
    return unfoldLines(source.slice(1, -1)).replace(/''/g, "'");
}
function unfoldLines(source) {
    const line = /(.*?)\r?\n/sy;
    let match = line.exec(source);
    if (!match)
        return source;
    /**
     * The negative lookbehinds in these RegExps are to
     * prevent causing a polynomial search time in certain cases.
     *
     * The try-catch is for Safari < 16.4 and other old browsers:
     * https://caniuse.com/js-regexp-lookbehind
     */
    let trimEnd, trimBoth;
    try {
        trimEnd = new RegExp('(?<![ \t])[ \t]+$');
        trimBoth = new RegExp('^[ \t]+|(?<![ \t])[ \t]+$', 'g');
    }
    catch {
        trimEnd = /[ \t]+$/;
        trimBoth = /^[ \t]+|[ \t]+$/g;
    }
    let res = match[1].replace(trimEnd, '');
    let sep = ' ';
    let pos = line.lastIndex;
    while ((match = line.exec(source))) {
        const lm = match[1].replace(trimBoth, '');
        if (lm === '') {
            if (sep === '\n')
                res += sep;
            else
                sep = '\n';
        }
        else {
            res += sep + lm;
            sep = ' ';
        }
        pos = line.lastIndex;
    }
    const last = /[ \t]*(.*)/sy;
    last.lastIndex = pos;
    match = last.exec(source);
    return res + sep + (match?.[1] ?? '');
}
function doubleQuotedValue(source, onError) {
    let res = '';
    for (let i = 1; i < source.length - 1; ++i) {
        const ch = source[i];
        if (ch === '\r' && source[i + 1] === '\n')
            continue;
        if (ch === '\n') {
            const { fold, offset } = foldNewline(source, i);
            res += fold;
            i = offset;
        }
        else if (ch === '\\') {
            let next = source[++i];
            const cc = escapeCodes[next];
            if (cc)
                res += cc;
            else if (next === '\n') {
                // skip escaped newlines, but still trim the following line
                next = source[i + 1];
                while (next === ' ' || next === '\t')
                    next = source[++i + 1];
            }
            else if (next === '\r' && source[i + 1] === '\n') {
                // skip escaped CRLF newlines, but still trim the following line
                next = source[++i + 1];
                while (next === ' ' || next === '\t')
                    next = source[++i + 1];
            }
            else if (next === 'x' || next === 'u' || next === 'U') {
                const length = next === 'x' ? 2 : next === 'u' ? 4 : 8;
                res += parseCharCode(source, i + 1, length, onError);
                i += length;
            }
            else {
                const raw = source.substr(i - 1, 2);
                onError(i - 1, 'BAD_DQ_ESCAPE', `Invalid escape sequence ${raw}`);
                res += raw;
            }
        }
        else if (ch === ' ' || ch === '\t') {
            // trim trailing whitespace
            const wsStart = i;
            let next = source[i + 1];
            while (next === ' ' || next === '\t')
                next = source[++i + 1];
            if (next !== '\n' && !(next === '\r' && source[i + 2] === '\n'))
                res += i > wsStart ? source.slice(wsStart, i + 1) : ch;
        }
        else {
            res += ch;
        }
    }
    if (source[source.length - 1] !== '"' || source.length === 1)
        onError(source.length, 'MISSING_CHAR', 'Missing closing "quote');
    return res;
}
/**
 * Fold a single newline into a space, multiple newlines to N - 1 newlines.
 * Presumes `source[offset] === '\n'`
 */
function foldNewline(source, offset) {
    let fold = '';
    let ch = source[offset + 1];
    while (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
        if (ch === '\r' && source[offset + 2] !== '\n')
            break;
        if (ch === '\n')
            fold += '\n';
        offset += 1;
        ch = source[offset + 1];
    }
    if (!fold)
        fold = ' ';
    return { fold, offset };
}
const escapeCodes = {
    '0': '\0', // null character
    a: '\x07', // bell character
    b: '\b', // backspace
    e: '\x1b', // escape character
    f: '\f', // form feed
    n: '\n', // line feed
    r: '\r', // carriage return
    t: '\t', // horizontal tab
    v: '\v', // vertical tab
    N: '\u0085', // Unicode next line
    _: '\u00a0', // Unicode non-breaking space
    L: '\u2028', // Unicode line separator
    P: '\u2029', // Unicode paragraph separator
    ' ': ' ',
    '"': '"',
    '/': '/',
    '\\': '\\',
    '\t': '\t'
};
function parseCharCode(source, offset, length, onError) {
    const cc = source.substr(offset, length);
    const ok = cc.length === length && /^[0-9a-fA-F]+$/.test(cc);
    const code = ok ? parseInt(cc, 16) : NaN;
    try {
        return String.fromCodePoint(code);
    }
    catch {
        const raw = source.substr(offset - 2, length + 2);
        onError(offset - 2, 'BAD_DQ_ESCAPE', `Invalid escape sequence ${raw}`);
        return raw;
    }
}

exports.resolveFlowScalar = resolveFlowScalar;


/***/ }),

/***/ 6715:
/***/ ((__unused_webpack_module, exports) => {



function resolveProps(tokens, { flow, indicator, next, offset, onError, parentIndent, startOnNewline }) {
    let spaceBefore = false;
    let atNewline = startOnNewline;
    let hasSpace = startOnNewline;
    let comment = '';
    let commentSep = '';
    let hasNewline = false;
    let reqSpace = false;
    let tab = null;
    let anchor = null;
    let tag = null;
    let newlineAfterProp = null;
    let comma = null;
    let found = null;
    let start = null;
    for (const token of tokens) {
        if (reqSpace) {
            if (token.type !== 'space' &&
                token.type !== 'newline' &&
                token.type !== 'comma')
                onError(token.offset, 'MISSING_CHAR', 'Tags and anchors must be separated from the next token by white space');
            reqSpace = false;
        }
        if (tab) {
            if (atNewline && token.type !== 'comment' && token.type !== 'newline') {
                onError(tab, 'TAB_AS_INDENT', 'Tabs are not allowed as indentation');
            }
            tab = null;
        }
        switch (token.type) {
            case 'space':
                // At the doc level, tabs at line start may be parsed
                // as leading white space rather than indentation.
                // In a flow collection, only the parser handles indent.
                if (!flow &&
                    (indicator !== 'doc-start' || next?.type !== 'flow-collection') &&
                    token.source.includes('\t')) {
                    tab = token;
                }
                hasSpace = true;
                break;
            case 'comment': {
                if (!hasSpace)
                    onError(token, 'MISSING_CHAR', 'Comments must be separated from other tokens by white space characters');
                const cb = token.source.substring(1) || ' ';
                if (!comment)
                    comment = cb;
                else
                    comment += commentSep + cb;
                commentSep = '';
                atNewline = false;
                break;
            }
            case 'newline':
                if (atNewline) {
                    if (comment)
                        comment += token.source;
                    else if (!found || indicator !== 'seq-item-ind')
                        spaceBefore = true;
                }
                else
                    commentSep += token.source;
                atNewline = true;
                hasNewline = true;
                if (anchor || tag)
                    newlineAfterProp = token;
                hasSpace = true;
                break;
            case 'anchor':
                if (anchor)
                    onError(token, 'MULTIPLE_ANCHORS', 'A node can have at most one anchor');
                if (token.source.endsWith(':'))
                    onError(token.offset + token.source.length - 1, 'BAD_ALIAS', 'Anchor ending in : is ambiguous', true);
                anchor = token;
                start ?? (start = token.offset);
                atNewline = false;
                hasSpace = false;
                reqSpace = true;
                break;
            case 'tag': {
                if (tag)
                    onError(token, 'MULTIPLE_TAGS', 'A node can have at most one tag');
                tag = token;
                start ?? (start = token.offset);
                atNewline = false;
                hasSpace = false;
                reqSpace = true;
                break;
            }
            case indicator:
                // Could here handle preceding comments differently
                if (anchor || tag)
                    onError(token, 'BAD_PROP_ORDER', `Anchors and tags must be after the ${token.source} indicator`);
                if (found)
                    onError(token, 'UNEXPECTED_TOKEN', `Unexpected ${token.source} in ${flow ?? 'collection'}`);
                found = token;
                atNewline =
                    indicator === 'seq-item-ind' || indicator === 'explicit-key-ind';
                hasSpace = false;
                break;
            case 'comma':
                if (flow) {
                    if (comma)
                        onError(token, 'UNEXPECTED_TOKEN', `Unexpected , in ${flow}`);
                    comma = token;
                    atNewline = false;
                    hasSpace = false;
                    break;
                }
            // else fallthrough
            default:
                onError(token, 'UNEXPECTED_TOKEN', `Unexpected ${token.type} token`);
                atNewline = false;
                hasSpace = false;
        }
    }
    const last = tokens[tokens.length - 1];
    const end = last ? last.offset + last.source.length : offset;
    if (reqSpace &&
        next &&
        next.type !== 'space' &&
        next.type !== 'newline' &&
        next.type !== 'comma' &&
        (next.type !== 'scalar' || next.source !== '')) {
        onError(next.offset, 'MISSING_CHAR', 'Tags and anchors must be separated from the next token by white space');
    }
    if (tab &&
        ((atNewline && tab.indent <= parentIndent) ||
            next?.type === 'block-map' ||
            next?.type === 'block-seq'))
        onError(tab, 'TAB_AS_INDENT', 'Tabs are not allowed as indentation');
    return {
        comma,
        found,
        spaceBefore,
        comment,
        hasNewline,
        anchor,
        tag,
        newlineAfterProp,
        end,
        start: start ?? end
    };
}

exports.resolveProps = resolveProps;


/***/ }),

/***/ 3151:
/***/ ((__unused_webpack_module, exports) => {



function containsNewline(key) {
    if (!key)
        return null;
    switch (key.type) {
        case 'alias':
        case 'scalar':
        case 'double-quoted-scalar':
        case 'single-quoted-scalar':
            if (key.source.includes('\n'))
                return true;
            if (key.end)
                for (const st of key.end)
                    if (st.type === 'newline')
                        return true;
            return false;
        case 'flow-collection':
            for (const it of key.items) {
                for (const st of it.start)
                    if (st.type === 'newline')
                        return true;
                if (it.sep)
                    for (const st of it.sep)
                        if (st.type === 'newline')
                            return true;
                if (containsNewline(it.key) || containsNewline(it.value))
                    return true;
            }
            return false;
        default:
            return true;
    }
}

exports.containsNewline = containsNewline;


/***/ }),

/***/ 6827:
/***/ ((__unused_webpack_module, exports) => {



function emptyScalarPosition(offset, before, pos) {
    if (before) {
        pos ?? (pos = before.length);
        for (let i = pos - 1; i >= 0; --i) {
            let st = before[i];
            switch (st.type) {
                case 'space':
                case 'comment':
                case 'newline':
                    offset -= st.source.length;
                    continue;
            }
            // Technically, an empty scalar is immediately after the last non-empty
            // node, but it's more useful to place it after any whitespace.
            st = before[++i];
            while (st?.type === 'space') {
                offset += st.source.length;
                st = before[++i];
            }
            break;
        }
    }
    return offset;
}

exports.emptyScalarPosition = emptyScalarPosition;


/***/ }),

/***/ 7319:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var utilContainsNewline = __nccwpck_require__(3151);

function flowIndentCheck(indent, fc, onError) {
    if (fc?.type === 'flow-collection') {
        const end = fc.end[0];
        if (end.indent === indent &&
            (end.source === ']' || end.source === '}') &&
            utilContainsNewline.containsNewline(fc)) {
            const msg = 'Flow end indicator should be more indented than parent';
            onError(end, 'BAD_INDENT', msg, true);
        }
    }
}

exports.flowIndentCheck = flowIndentCheck;


/***/ }),

/***/ 8279:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);

function mapIncludes(ctx, items, search) {
    const { uniqueKeys } = ctx.options;
    if (uniqueKeys === false)
        return false;
    const isEqual = typeof uniqueKeys === 'function'
        ? uniqueKeys
        : (a, b) => a === b || (identity.isScalar(a) && identity.isScalar(b) && a.value === b.value);
    return items.some(pair => isEqual(pair.key, search));
}

exports.mapIncludes = mapIncludes;


/***/ }),

/***/ 7977:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Alias = __nccwpck_require__(5525);
var Collection = __nccwpck_require__(1633);
var identity = __nccwpck_require__(1891);
var Pair = __nccwpck_require__(5153);
var toJS = __nccwpck_require__(3119);
var Schema = __nccwpck_require__(1148);
var stringifyDocument = __nccwpck_require__(8577);
var anchors = __nccwpck_require__(7048);
var applyReviver = __nccwpck_require__(7817);
var createNode = __nccwpck_require__(7616);
var directives = __nccwpck_require__(9082);

class Document {
    constructor(value, replacer, options) {
        /** A comment before this Document */
        this.commentBefore = null;
        /** A comment immediately after this Document */
        this.comment = null;
        /** Errors encountered during parsing. */
        this.errors = [];
        /** Warnings encountered during parsing. */
        this.warnings = [];
        Object.defineProperty(this, identity.NODE_TYPE, { value: identity.DOC });
        let _replacer = null;
        if (typeof replacer === 'function' || Array.isArray(replacer)) {
            _replacer = replacer;
        }
        else if (options === undefined && replacer) {
            options = replacer;
            replacer = undefined;
        }
        const opt = Object.assign({
            intAsBigInt: false,
            keepSourceTokens: false,
            logLevel: 'warn',
            prettyErrors: true,
            strict: true,
            stringKeys: false,
            uniqueKeys: true,
            version: '1.2'
        }, options);
        this.options = opt;
        let { version } = opt;
        if (options?._directives) {
            this.directives = options._directives.atDocument();
            if (this.directives.yaml.explicit)
                version = this.directives.yaml.version;
        }
        else
            this.directives = new directives.Directives({ version });
        this.setSchema(version, options);
        // @ts-expect-error We can't really know that this matches Contents.
        this.contents =
            value === undefined ? null : this.createNode(value, _replacer, options);
    }
    /**
     * Create a deep copy of this Document and its contents.
     *
     * Custom Node values that inherit from `Object` still refer to their original instances.
     */
    clone() {
        const copy = Object.create(Document.prototype, {
            [identity.NODE_TYPE]: { value: identity.DOC }
        });
        copy.commentBefore = this.commentBefore;
        copy.comment = this.comment;
        copy.errors = this.errors.slice();
        copy.warnings = this.warnings.slice();
        copy.options = Object.assign({}, this.options);
        if (this.directives)
            copy.directives = this.directives.clone();
        copy.schema = this.schema.clone();
        // @ts-expect-error We can't really know that this matches Contents.
        copy.contents = identity.isNode(this.contents)
            ? this.contents.clone(copy.schema)
            : this.contents;
        if (this.range)
            copy.range = this.range.slice();
        return copy;
    }
    /** Adds a value to the document. */
    add(value) {
        if (assertCollection(this.contents))
            this.contents.add(value);
    }
    /** Adds a value to the document. */
    addIn(path, value) {
        if (assertCollection(this.contents))
            this.contents.addIn(path, value);
    }
    /**
     * Create a new `Alias` node, ensuring that the target `node` has the required anchor.
     *
     * If `node` already has an anchor, `name` is ignored.
     * Otherwise, the `node.anchor` value will be set to `name`,
     * or if an anchor with that name is already present in the document,
     * `name` will be used as a prefix for a new unique anchor.
     * If `name` is undefined, the generated anchor will use 'a' as a prefix.
     */
    createAlias(node, name) {
        if (!node.anchor) {
            const prev = anchors.anchorNames(this);
            node.anchor =
                // eslint-disable-next-line @typescript-eslint/prefer-nullish-coalescing
                !name || prev.has(name) ? anchors.findNewAnchor(name || 'a', prev) : name;
        }
        return new Alias.Alias(node.anchor);
    }
    createNode(value, replacer, options) {
        let _replacer = undefined;
        if (typeof replacer === 'function') {
            value = replacer.call({ '': value }, '', value);
            _replacer = replacer;
        }
        else if (Array.isArray(replacer)) {
            const keyToStr = (v) => typeof v === 'number' || v instanceof String || v instanceof Number;
            const asStr = replacer.filter(keyToStr).map(String);
            if (asStr.length > 0)
                replacer = replacer.concat(asStr);
            _replacer = replacer;
        }
        else if (options === undefined && replacer) {
            options = replacer;
            replacer = undefined;
        }
        const { aliasDuplicateObjects, anchorPrefix, flow, keepUndefined, onTagObj, tag } = options ?? {};
        const { onAnchor, setAnchors, sourceObjects } = anchors.createNodeAnchors(this, 
        // eslint-disable-next-line @typescript-eslint/prefer-nullish-coalescing
        anchorPrefix || 'a');
        const ctx = {
            aliasDuplicateObjects: aliasDuplicateObjects ?? true,
            keepUndefined: keepUndefined ?? false,
            onAnchor,
            onTagObj,
            replacer: _replacer,
            schema: this.schema,
            sourceObjects
        };
        const node = createNode.createNode(value, tag, ctx);
        if (flow && identity.isCollection(node))
            node.flow = true;
        setAnchors();
        return node;
    }
    /**
     * Convert a key and a value into a `Pair` using the current schema,
     * recursively wrapping all values as `Scalar` or `Collection` nodes.
     */
    createPair(key, value, options = {}) {
        const k = this.createNode(key, null, options);
        const v = this.createNode(value, null, options);
        return new Pair.Pair(k, v);
    }
    /**
     * Removes a value from the document.
     * @returns `true` if the item was found and removed.
     */
    delete(key) {
        return assertCollection(this.contents) ? this.contents.delete(key) : false;
    }
    /**
     * Removes a value from the document.
     * @returns `true` if the item was found and removed.
     */
    deleteIn(path) {
        if (Collection.isEmptyPath(path)) {
            if (this.contents == null)
                return false;
            // @ts-expect-error Presumed impossible if Strict extends false
            this.contents = null;
            return true;
        }
        return assertCollection(this.contents)
            ? this.contents.deleteIn(path)
            : false;
    }
    /**
     * Returns item at `key`, or `undefined` if not found. By default unwraps
     * scalar values from their surrounding node; to disable set `keepScalar` to
     * `true` (collections are always returned intact).
     */
    get(key, keepScalar) {
        return identity.isCollection(this.contents)
            ? this.contents.get(key, keepScalar)
            : undefined;
    }
    /**
     * Returns item at `path`, or `undefined` if not found. By default unwraps
     * scalar values from their surrounding node; to disable set `keepScalar` to
     * `true` (collections are always returned intact).
     */
    getIn(path, keepScalar) {
        if (Collection.isEmptyPath(path))
            return !keepScalar && identity.isScalar(this.contents)
                ? this.contents.value
                : this.contents;
        return identity.isCollection(this.contents)
            ? this.contents.getIn(path, keepScalar)
            : undefined;
    }
    /**
     * Checks if the document includes a value with the key `key`.
     */
    has(key) {
        return identity.isCollection(this.contents) ? this.contents.has(key) : false;
    }
    /**
     * Checks if the document includes a value at `path`.
     */
    hasIn(path) {
        if (Collection.isEmptyPath(path))
            return this.contents !== undefined;
        return identity.isCollection(this.contents) ? this.contents.hasIn(path) : false;
    }
    /**
     * Sets a value in this document. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     */
    set(key, value) {
        if (this.contents == null) {
            // @ts-expect-error We can't really know that this matches Contents.
            this.contents = Collection.collectionFromPath(this.schema, [key], value);
        }
        else if (assertCollection(this.contents)) {
            this.contents.set(key, value);
        }
    }
    /**
     * Sets a value in this document. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     */
    setIn(path, value) {
        if (Collection.isEmptyPath(path)) {
            // @ts-expect-error We can't really know that this matches Contents.
            this.contents = value;
        }
        else if (this.contents == null) {
            // @ts-expect-error We can't really know that this matches Contents.
            this.contents = Collection.collectionFromPath(this.schema, Array.from(path), value);
        }
        else if (assertCollection(this.contents)) {
            this.contents.setIn(path, value);
        }
    }
    /**
     * Change the YAML version and schema used by the document.
     * A `null` version disables support for directives, explicit tags, anchors, and aliases.
     * It also requires the `schema` option to be given as a `Schema` instance value.
     *
     * Overrides all previously set schema options.
     */
    setSchema(version, options = {}) {
        if (typeof version === 'number')
            version = String(version);
        let opt;
        switch (version) {
            case '1.1':
                if (this.directives)
                    this.directives.yaml.version = '1.1';
                else
                    this.directives = new directives.Directives({ version: '1.1' });
                opt = { resolveKnownTags: false, schema: 'yaml-1.1' };
                break;
            case '1.2':
            case 'next':
                if (this.directives)
                    this.directives.yaml.version = version;
                else
                    this.directives = new directives.Directives({ version });
                opt = { resolveKnownTags: true, schema: 'core' };
                break;
            case null:
                if (this.directives)
                    delete this.directives;
                opt = null;
                break;
            default: {
                const sv = JSON.stringify(version);
                throw new Error(`Expected '1.1', '1.2' or null as first argument, but found: ${sv}`);
            }
        }
        // Not using `instanceof Schema` to allow for duck typing
        if (options.schema instanceof Object)
            this.schema = options.schema;
        else if (opt)
            this.schema = new Schema.Schema(Object.assign(opt, options));
        else
            throw new Error(`With a null YAML version, the { schema: Schema } option is required`);
    }
    // json & jsonArg are only used from toJSON()
    toJS({ json, jsonArg, mapAsMap, maxAliasCount, onAnchor, reviver } = {}) {
        const ctx = {
            anchors: new Map(),
            doc: this,
            keep: !json,
            mapAsMap: mapAsMap === true,
            mapKeyWarned: false,
            maxAliasCount: typeof maxAliasCount === 'number' ? maxAliasCount : 100
        };
        const res = toJS.toJS(this.contents, jsonArg ?? '', ctx);
        if (typeof onAnchor === 'function')
            for (const { count, res } of ctx.anchors.values())
                onAnchor(res, count);
        return typeof reviver === 'function'
            ? applyReviver.applyReviver(reviver, { '': res }, '', res)
            : res;
    }
    /**
     * A JSON representation of the document `contents`.
     *
     * @param jsonArg Used by `JSON.stringify` to indicate the array index or
     *   property name.
     */
    toJSON(jsonArg, onAnchor) {
        return this.toJS({ json: true, jsonArg, mapAsMap: false, onAnchor });
    }
    /** A YAML representation of the document. */
    toString(options = {}) {
        if (this.errors.length > 0)
            throw new Error('Document with errors cannot be stringified');
        if ('indent' in options &&
            (!Number.isInteger(options.indent) || Number(options.indent) <= 0)) {
            const s = JSON.stringify(options.indent);
            throw new Error(`"indent" option must be a positive integer, not ${s}`);
        }
        return stringifyDocument.stringifyDocument(this, options);
    }
}
function assertCollection(contents) {
    if (identity.isCollection(contents))
        return true;
    throw new Error('Expected a YAML collection as document contents');
}

exports.Document = Document;


/***/ }),

/***/ 7048:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var visit = __nccwpck_require__(1360);

/**
 * Verify that the input string is a valid anchor.
 *
 * Will throw on errors.
 */
function anchorIsValid(anchor) {
    if (/[\x00-\x19\s,[\]{}]/.test(anchor)) {
        const sa = JSON.stringify(anchor);
        const msg = `Anchor must not contain whitespace or control characters: ${sa}`;
        throw new Error(msg);
    }
    return true;
}
function anchorNames(root) {
    const anchors = new Set();
    visit.visit(root, {
        Value(_key, node) {
            if (node.anchor)
                anchors.add(node.anchor);
        }
    });
    return anchors;
}
/** Find a new anchor name with the given `prefix` and a one-indexed suffix. */
function findNewAnchor(prefix, exclude) {
    for (let i = 1; true; ++i) {
        const name = `${prefix}${i}`;
        if (!exclude.has(name))
            return name;
    }
}
function createNodeAnchors(doc, prefix) {
    const aliasObjects = [];
    const sourceObjects = new Map();
    let prevAnchors = null;
    return {
        onAnchor: (source) => {
            aliasObjects.push(source);
            prevAnchors ?? (prevAnchors = anchorNames(doc));
            const anchor = findNewAnchor(prefix, prevAnchors);
            prevAnchors.add(anchor);
            return anchor;
        },
        /**
         * With circular references, the source node is only resolved after all
         * of its child nodes are. This is why anchors are set only after all of
         * the nodes have been created.
         */
        setAnchors: () => {
            for (const source of aliasObjects) {
                const ref = sourceObjects.get(source);
                if (typeof ref === 'object' &&
                    ref.anchor &&
                    (identity.isScalar(ref.node) || identity.isCollection(ref.node))) {
                    ref.node.anchor = ref.anchor;
                }
                else {
                    const error = new Error('Failed to resolve repeated object (this should not happen)');
                    error.source = source;
                    throw error;
                }
            }
        },
        sourceObjects
    };
}

exports.anchorIsValid = anchorIsValid;
exports.anchorNames = anchorNames;
exports.createNodeAnchors = createNodeAnchors;
exports.findNewAnchor = findNewAnchor;


/***/ }),

/***/ 7817:
/***/ ((__unused_webpack_module, exports) => {



/**
 * Applies the JSON.parse reviver algorithm as defined in the ECMA-262 spec,
 * in section 24.5.1.1 "Runtime Semantics: InternalizeJSONProperty" of the
 * 2021 edition: https://tc39.es/ecma262/#sec-json.parse
 *
 * Includes extensions for handling Map and Set objects.
 */
function applyReviver(reviver, obj, key, val) {
    if (val && typeof val === 'object') {
        if (Array.isArray(val)) {
            for (let i = 0, len = val.length; i < len; ++i) {
                const v0 = val[i];
                const v1 = applyReviver(reviver, val, String(i), v0);
                // eslint-disable-next-line @typescript-eslint/no-array-delete
                if (v1 === undefined)
                    delete val[i];
                else if (v1 !== v0)
                    val[i] = v1;
            }
        }
        else if (val instanceof Map) {
            for (const k of Array.from(val.keys())) {
                const v0 = val.get(k);
                const v1 = applyReviver(reviver, val, k, v0);
                if (v1 === undefined)
                    val.delete(k);
                else if (v1 !== v0)
                    val.set(k, v1);
            }
        }
        else if (val instanceof Set) {
            for (const v0 of Array.from(val)) {
                const v1 = applyReviver(reviver, val, v0, v0);
                if (v1 === undefined)
                    val.delete(v0);
                else if (v1 !== v0) {
                    val.delete(v0);
                    val.add(v1);
                }
            }
        }
        else {
            for (const [k, v0] of Object.entries(val)) {
                const v1 = applyReviver(reviver, val, k, v0);
                if (v1 === undefined)
                    delete val[k];
                else if (v1 !== v0)
                    val[k] = v1;
            }
        }
    }
    return reviver.call(obj, key, val);
}

exports.applyReviver = applyReviver;


/***/ }),

/***/ 7616:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Alias = __nccwpck_require__(5525);
var identity = __nccwpck_require__(1891);
var Scalar = __nccwpck_require__(4305);

const defaultTagPrefix = 'tag:yaml.org,2002:';
function findTagObject(value, tagName, tags) {
    if (tagName) {
        const match = tags.filter(t => t.tag === tagName);
        const tagObj = match.find(t => !t.format) ?? match[0];
        if (!tagObj)
            throw new Error(`Tag ${tagName} not found`);
        return tagObj;
    }
    return tags.find(t => t.identify?.(value) && !t.format);
}
function createNode(value, tagName, ctx) {
    if (identity.isDocument(value))
        value = value.contents;
    if (identity.isNode(value))
        return value;
    if (identity.isPair(value)) {
        const map = ctx.schema[identity.MAP].createNode?.(ctx.schema, null, ctx);
        map.items.push(value);
        return map;
    }
    if (value instanceof String ||
        value instanceof Number ||
        value instanceof Boolean ||
        (typeof BigInt !== 'undefined' && value instanceof BigInt) // not supported everywhere
    ) {
        // https://tc39.es/ecma262/#sec-serializejsonproperty
        value = value.valueOf();
    }
    const { aliasDuplicateObjects, onAnchor, onTagObj, schema, sourceObjects } = ctx;
    // Detect duplicate references to the same object & use Alias nodes for all
    // after first. The `ref` wrapper allows for circular references to resolve.
    let ref = undefined;
    if (aliasDuplicateObjects && value && typeof value === 'object') {
        ref = sourceObjects.get(value);
        if (ref) {
            ref.anchor ?? (ref.anchor = onAnchor(value));
            return new Alias.Alias(ref.anchor);
        }
        else {
            ref = { anchor: null, node: null };
            sourceObjects.set(value, ref);
        }
    }
    if (tagName?.startsWith('!!'))
        tagName = defaultTagPrefix + tagName.slice(2);
    let tagObj = findTagObject(value, tagName, schema.tags);
    if (!tagObj) {
        if (value && typeof value.toJSON === 'function') {
            // eslint-disable-next-line @typescript-eslint/no-unsafe-call
            value = value.toJSON();
        }
        if (!value || typeof value !== 'object') {
            const node = new Scalar.Scalar(value);
            if (ref)
                ref.node = node;
            return node;
        }
        tagObj =
            value instanceof Map
                ? schema[identity.MAP]
                : Symbol.iterator in Object(value)
                    ? schema[identity.SEQ]
                    : schema[identity.MAP];
    }
    if (onTagObj) {
        onTagObj(tagObj);
        delete ctx.onTagObj;
    }
    const node = tagObj?.createNode
        ? tagObj.createNode(ctx.schema, value, ctx)
        : typeof tagObj?.nodeClass?.from === 'function'
            ? tagObj.nodeClass.from(ctx.schema, value, ctx)
            : new Scalar.Scalar(value);
    if (tagName)
        node.tag = tagName;
    else if (!tagObj.default)
        node.tag = tagObj.tag;
    if (ref)
        ref.node = node;
    return node;
}

exports.createNode = createNode;


/***/ }),

/***/ 9082:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var visit = __nccwpck_require__(1360);

const escapeChars = {
    '!': '%21',
    ',': '%2C',
    '[': '%5B',
    ']': '%5D',
    '{': '%7B',
    '}': '%7D'
};
const escapeTagName = (tn) => tn.replace(/[!,[\]{}]/g, ch => escapeChars[ch]);
class Directives {
    constructor(yaml, tags) {
        /**
         * The directives-end/doc-start marker `---`. If `null`, a marker may still be
         * included in the document's stringified representation.
         */
        this.docStart = null;
        /** The doc-end marker `...`.  */
        this.docEnd = false;
        this.yaml = Object.assign({}, Directives.defaultYaml, yaml);
        this.tags = Object.assign({}, Directives.defaultTags, tags);
    }
    clone() {
        const copy = new Directives(this.yaml, this.tags);
        copy.docStart = this.docStart;
        return copy;
    }
    /**
     * During parsing, get a Directives instance for the current document and
     * update the stream state according to the current version's spec.
     */
    atDocument() {
        const res = new Directives(this.yaml, this.tags);
        switch (this.yaml.version) {
            case '1.1':
                this.atNextDocument = true;
                break;
            case '1.2':
                this.atNextDocument = false;
                this.yaml = {
                    explicit: Directives.defaultYaml.explicit,
                    version: '1.2'
                };
                this.tags = Object.assign({}, Directives.defaultTags);
                break;
        }
        return res;
    }
    /**
     * @param onError - May be called even if the action was successful
     * @returns `true` on success
     */
    add(line, onError) {
        if (this.atNextDocument) {
            this.yaml = { explicit: Directives.defaultYaml.explicit, version: '1.1' };
            this.tags = Object.assign({}, Directives.defaultTags);
            this.atNextDocument = false;
        }
        const parts = line.trim().split(/[ \t]+/);
        const name = parts.shift();
        switch (name) {
            case '%TAG': {
                if (parts.length !== 2) {
                    onError(0, '%TAG directive should contain exactly two parts');
                    if (parts.length < 2)
                        return false;
                }
                const [handle, prefix] = parts;
                this.tags[handle] = prefix;
                return true;
            }
            case '%YAML': {
                this.yaml.explicit = true;
                if (parts.length !== 1) {
                    onError(0, '%YAML directive should contain exactly one part');
                    return false;
                }
                const [version] = parts;
                if (version === '1.1' || version === '1.2') {
                    this.yaml.version = version;
                    return true;
                }
                else {
                    const isValid = /^\d+\.\d+$/.test(version);
                    onError(6, `Unsupported YAML version ${version}`, isValid);
                    return false;
                }
            }
            default:
                onError(0, `Unknown directive ${name}`, true);
                return false;
        }
    }
    /**
     * Resolves a tag, matching handles to those defined in %TAG directives.
     *
     * @returns Resolved tag, which may also be the non-specific tag `'!'` or a
     *   `'!local'` tag, or `null` if unresolvable.
     */
    tagName(source, onError) {
        if (source === '!')
            return '!'; // non-specific tag
        if (source[0] !== '!') {
            onError(`Not a valid tag: ${source}`);
            return null;
        }
        if (source[1] === '<') {
            const verbatim = source.slice(2, -1);
            if (verbatim === '!' || verbatim === '!!') {
                onError(`Verbatim tags aren't resolved, so ${source} is invalid.`);
                return null;
            }
            if (source[source.length - 1] !== '>')
                onError('Verbatim tags must end with a >');
            return verbatim;
        }
        const [, handle, suffix] = source.match(/^(.*!)([^!]*)$/s);
        if (!suffix)
            onError(`The ${source} tag has no suffix`);
        const prefix = this.tags[handle];
        if (prefix) {
            try {
                return prefix + decodeURIComponent(suffix);
            }
            catch (error) {
                onError(String(error));
                return null;
            }
        }
        if (handle === '!')
            return source; // local tag
        onError(`Could not resolve tag: ${source}`);
        return null;
    }
    /**
     * Given a fully resolved tag, returns its printable string form,
     * taking into account current tag prefixes and defaults.
     */
    tagString(tag) {
        for (const [handle, prefix] of Object.entries(this.tags)) {
            if (tag.startsWith(prefix))
                return handle + escapeTagName(tag.substring(prefix.length));
        }
        return tag[0] === '!' ? tag : `!<${tag}>`;
    }
    toString(doc) {
        const lines = this.yaml.explicit
            ? [`%YAML ${this.yaml.version || '1.2'}`]
            : [];
        const tagEntries = Object.entries(this.tags);
        let tagNames;
        if (doc && tagEntries.length > 0 && identity.isNode(doc.contents)) {
            const tags = {};
            visit.visit(doc.contents, (_key, node) => {
                if (identity.isNode(node) && node.tag)
                    tags[node.tag] = true;
            });
            tagNames = Object.keys(tags);
        }
        else
            tagNames = [];
        for (const [handle, prefix] of tagEntries) {
            if (handle === '!!' && prefix === 'tag:yaml.org,2002:')
                continue;
            if (!doc || tagNames.some(tn => tn.startsWith(prefix)))
                lines.push(`%TAG ${handle} ${prefix}`);
        }
        return lines.join('\n');
    }
}
Directives.defaultYaml = { explicit: false, version: '1.2' };
Directives.defaultTags = { '!!': 'tag:yaml.org,2002:' };

exports.Directives = Directives;


/***/ }),

/***/ 7460:
/***/ ((__unused_webpack_module, exports) => {



class YAMLError extends Error {
    constructor(name, pos, code, message) {
        super();
        this.name = name;
        this.code = code;
        this.message = message;
        this.pos = pos;
    }
}
class YAMLParseError extends YAMLError {
    constructor(pos, code, message) {
        super('YAMLParseError', pos, code, message);
    }
}
class YAMLWarning extends YAMLError {
    constructor(pos, code, message) {
        super('YAMLWarning', pos, code, message);
    }
}
const prettifyError = (src, lc) => (error) => {
    if (error.pos[0] === -1)
        return;
    error.linePos = error.pos.map(pos => lc.linePos(pos));
    const { line, col } = error.linePos[0];
    error.message += ` at line ${line}, column ${col}`;
    let ci = col - 1;
    let lineStr = src
        .substring(lc.lineStarts[line - 1], lc.lineStarts[line])
        .replace(/[\n\r]+$/, '');
    // Trim to max 80 chars, keeping col position near the middle
    if (ci >= 60 && lineStr.length > 80) {
        const trimStart = Math.min(ci - 39, lineStr.length - 79);
        lineStr = '…' + lineStr.substring(trimStart);
        ci -= trimStart - 1;
    }
    if (lineStr.length > 80)
        lineStr = lineStr.substring(0, 79) + '…';
    // Include previous line in context if pointing at line start
    if (line > 1 && /^ *$/.test(lineStr.substring(0, ci))) {
        // Regexp won't match if start is trimmed
        let prev = src.substring(lc.lineStarts[line - 2], lc.lineStarts[line - 1]);
        if (prev.length > 80)
            prev = prev.substring(0, 79) + '…\n';
        lineStr = prev + lineStr;
    }
    if (/[^ ]/.test(lineStr)) {
        let count = 1;
        const end = error.linePos[1];
        if (end?.line === line && end.col > col) {
            count = Math.max(1, Math.min(end.col - col, 80 - ci));
        }
        const pointer = ' '.repeat(ci) + '^'.repeat(count);
        error.message += `:\n\n${lineStr}\n${pointer}\n`;
    }
};

exports.YAMLError = YAMLError;
exports.YAMLParseError = YAMLParseError;
exports.YAMLWarning = YAMLWarning;
exports.prettifyError = prettifyError;


/***/ }),

/***/ 3483:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {

var __webpack_unused_export__;


var composer = __nccwpck_require__(4260);
var Document = __nccwpck_require__(7977);
var Schema = __nccwpck_require__(1148);
var errors = __nccwpck_require__(7460);
var Alias = __nccwpck_require__(5525);
var identity = __nccwpck_require__(1891);
var Pair = __nccwpck_require__(5153);
var Scalar = __nccwpck_require__(4305);
var YAMLMap = __nccwpck_require__(2938);
var YAMLSeq = __nccwpck_require__(3571);
var cst = __nccwpck_require__(3921);
var lexer = __nccwpck_require__(1893);
var lineCounter = __nccwpck_require__(2808);
var parser = __nccwpck_require__(3124);
var publicApi = __nccwpck_require__(4563);
var visit = __nccwpck_require__(1360);



__webpack_unused_export__ = composer.Composer;
__webpack_unused_export__ = Document.Document;
__webpack_unused_export__ = Schema.Schema;
__webpack_unused_export__ = errors.YAMLError;
__webpack_unused_export__ = errors.YAMLParseError;
__webpack_unused_export__ = errors.YAMLWarning;
__webpack_unused_export__ = Alias.Alias;
exports.Vj = identity.isAlias;
__webpack_unused_export__ = identity.isCollection;
__webpack_unused_export__ = identity.isDocument;
exports.jh = identity.isMap;
__webpack_unused_export__ = identity.isNode;
__webpack_unused_export__ = identity.isPair;
exports.jn = identity.isScalar;
exports.oP = identity.isSeq;
__webpack_unused_export__ = Pair.Pair;
exports.X5 = Scalar.Scalar;
__webpack_unused_export__ = YAMLMap.YAMLMap;
__webpack_unused_export__ = YAMLSeq.YAMLSeq;
__webpack_unused_export__ = cst;
__webpack_unused_export__ = lexer.Lexer;
exports.HN = lineCounter.LineCounter;
__webpack_unused_export__ = parser.Parser;
__webpack_unused_export__ = publicApi.parse;
__webpack_unused_export__ = publicApi.parseAllDocuments;
exports.Tp = publicApi.parseDocument;
__webpack_unused_export__ = publicApi.stringify;
__webpack_unused_export__ = visit.visit;
__webpack_unused_export__ = visit.visitAsync;


/***/ }),

/***/ 6669:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var node_process = __nccwpck_require__(932);

function debug(logLevel, ...messages) {
    if (logLevel === 'debug')
        console.log(...messages);
}
function warn(logLevel, warning) {
    if (logLevel === 'debug' || logLevel === 'warn') {
        if (typeof node_process.emitWarning === 'function')
            node_process.emitWarning(warning);
        else
            console.warn(warning);
    }
}

exports.debug = debug;
exports.warn = warn;


/***/ }),

/***/ 5525:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var anchors = __nccwpck_require__(7048);
var visit = __nccwpck_require__(1360);
var identity = __nccwpck_require__(1891);
var Node = __nccwpck_require__(5605);
var toJS = __nccwpck_require__(3119);

class Alias extends Node.NodeBase {
    constructor(source) {
        super(identity.ALIAS);
        this.source = source;
        Object.defineProperty(this, 'tag', {
            set() {
                throw new Error('Alias nodes cannot have tags');
            }
        });
    }
    /**
     * Resolve the value of this alias within `doc`, finding the last
     * instance of the `source` anchor before this node.
     */
    resolve(doc, ctx) {
        if (ctx?.maxAliasCount === 0)
            throw new ReferenceError('Alias resolution is disabled');
        let nodes;
        if (ctx?.aliasResolveCache) {
            nodes = ctx.aliasResolveCache;
        }
        else {
            nodes = [];
            visit.visit(doc, {
                Node: (_key, node) => {
                    if (identity.isAlias(node) || identity.hasAnchor(node))
                        nodes.push(node);
                }
            });
            if (ctx)
                ctx.aliasResolveCache = nodes;
        }
        let found = undefined;
        for (const node of nodes) {
            if (node === this)
                break;
            if (node.anchor === this.source)
                found = node;
        }
        if (found && ctx) {
            const { anchors, doc, maxAliasCount } = ctx;
            let data = anchors.get(found);
            if (!data) {
                // Resolve anchors for Node.prototype.toJS()
                toJS.toJS(found, null, ctx);
                data = anchors.get(found);
            }
            /* istanbul ignore if */
            if (data?.res === undefined) {
                const msg = 'This should not happen: Alias anchor was not resolved?';
                throw new ReferenceError(msg);
            }
            if (maxAliasCount >= 0) {
                data.count += 1;
                if (data.aliasCount === 0)
                    data.aliasCount = getAliasCount(doc, found, anchors);
                if (data.count * data.aliasCount > maxAliasCount) {
                    const msg = 'Excessive alias count indicates a resource exhaustion attack';
                    throw new ReferenceError(msg);
                }
            }
        }
        return found;
    }
    toJSON(_arg, ctx) {
        if (!ctx)
            return { source: this.source };
        const source = this.resolve(ctx.doc, ctx);
        if (!source) {
            const msg = `Unresolved alias (the anchor must be set before the alias): ${this.source}`;
            throw new ReferenceError(msg);
        }
        return ctx.anchors.get(source).res;
    }
    toString(ctx, _onComment, _onChompKeep) {
        const src = `*${this.source}`;
        if (ctx) {
            anchors.anchorIsValid(this.source);
            if (ctx.options.verifyAliasOrder && !ctx.anchors.has(this.source)) {
                const msg = `Unresolved alias (the anchor must be set before the alias): ${this.source}`;
                throw new Error(msg);
            }
            if (ctx.implicitKey)
                return `${src} `;
        }
        return src;
    }
}
function getAliasCount(doc, node, anchors) {
    if (identity.isAlias(node)) {
        const source = node.resolve(doc);
        const anchor = anchors && source && anchors.get(source);
        return anchor ? anchor.count * anchor.aliasCount : 0;
    }
    else if (identity.isCollection(node)) {
        let count = 0;
        for (const item of node.items) {
            const c = getAliasCount(doc, item, anchors);
            if (c > count)
                count = c;
        }
        return count;
    }
    else if (identity.isPair(node)) {
        const kc = getAliasCount(doc, node.key, anchors);
        const vc = getAliasCount(doc, node.value, anchors);
        return Math.max(kc, vc);
    }
    return 1;
}

exports.Alias = Alias;


/***/ }),

/***/ 1633:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var createNode = __nccwpck_require__(7616);
var identity = __nccwpck_require__(1891);
var Node = __nccwpck_require__(5605);

function collectionFromPath(schema, path, value) {
    let v = value;
    for (let i = path.length - 1; i >= 0; --i) {
        const k = path[i];
        if (typeof k === 'number' && Number.isInteger(k) && k >= 0) {
            const a = [];
            a[k] = v;
            v = a;
        }
        else {
            v = new Map([[k, v]]);
        }
    }
    return createNode.createNode(v, undefined, {
        aliasDuplicateObjects: false,
        keepUndefined: false,
        onAnchor: () => {
            throw new Error('This should not happen, please report a bug.');
        },
        schema,
        sourceObjects: new Map()
    });
}
// Type guard is intentionally a little wrong so as to be more useful,
// as it does not cover untypable empty non-string iterables (e.g. []).
const isEmptyPath = (path) => path == null ||
    (typeof path === 'object' && !!path[Symbol.iterator]().next().done);
class Collection extends Node.NodeBase {
    constructor(type, schema) {
        super(type);
        Object.defineProperty(this, 'schema', {
            value: schema,
            configurable: true,
            enumerable: false,
            writable: true
        });
    }
    /**
     * Create a copy of this collection.
     *
     * @param schema - If defined, overwrites the original's schema
     */
    clone(schema) {
        const copy = Object.create(Object.getPrototypeOf(this), Object.getOwnPropertyDescriptors(this));
        if (schema)
            copy.schema = schema;
        copy.items = copy.items.map(it => identity.isNode(it) || identity.isPair(it) ? it.clone(schema) : it);
        if (this.range)
            copy.range = this.range.slice();
        return copy;
    }
    /**
     * Adds a value to the collection. For `!!map` and `!!omap` the value must
     * be a Pair instance or a `{ key, value }` object, which may not have a key
     * that already exists in the map.
     */
    addIn(path, value) {
        if (isEmptyPath(path))
            this.add(value);
        else {
            const [key, ...rest] = path;
            const node = this.get(key, true);
            if (identity.isCollection(node))
                node.addIn(rest, value);
            else if (node === undefined && this.schema)
                this.set(key, collectionFromPath(this.schema, rest, value));
            else
                throw new Error(`Expected YAML collection at ${key}. Remaining path: ${rest}`);
        }
    }
    /**
     * Removes a value from the collection.
     * @returns `true` if the item was found and removed.
     */
    deleteIn(path) {
        const [key, ...rest] = path;
        if (rest.length === 0)
            return this.delete(key);
        const node = this.get(key, true);
        if (identity.isCollection(node))
            return node.deleteIn(rest);
        else
            throw new Error(`Expected YAML collection at ${key}. Remaining path: ${rest}`);
    }
    /**
     * Returns item at `key`, or `undefined` if not found. By default unwraps
     * scalar values from their surrounding node; to disable set `keepScalar` to
     * `true` (collections are always returned intact).
     */
    getIn(path, keepScalar) {
        const [key, ...rest] = path;
        const node = this.get(key, true);
        if (rest.length === 0)
            return !keepScalar && identity.isScalar(node) ? node.value : node;
        else
            return identity.isCollection(node) ? node.getIn(rest, keepScalar) : undefined;
    }
    hasAllNullValues(allowScalar) {
        return this.items.every(node => {
            if (!identity.isPair(node))
                return false;
            const n = node.value;
            return (n == null ||
                (allowScalar &&
                    identity.isScalar(n) &&
                    n.value == null &&
                    !n.commentBefore &&
                    !n.comment &&
                    !n.tag));
        });
    }
    /**
     * Checks if the collection includes a value with the key `key`.
     */
    hasIn(path) {
        const [key, ...rest] = path;
        if (rest.length === 0)
            return this.has(key);
        const node = this.get(key, true);
        return identity.isCollection(node) ? node.hasIn(rest) : false;
    }
    /**
     * Sets a value in this collection. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     */
    setIn(path, value) {
        const [key, ...rest] = path;
        if (rest.length === 0) {
            this.set(key, value);
        }
        else {
            const node = this.get(key, true);
            if (identity.isCollection(node))
                node.setIn(rest, value);
            else if (node === undefined && this.schema)
                this.set(key, collectionFromPath(this.schema, rest, value));
            else
                throw new Error(`Expected YAML collection at ${key}. Remaining path: ${rest}`);
        }
    }
}

exports.Collection = Collection;
exports.collectionFromPath = collectionFromPath;
exports.isEmptyPath = isEmptyPath;


/***/ }),

/***/ 5605:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var applyReviver = __nccwpck_require__(7817);
var identity = __nccwpck_require__(1891);
var toJS = __nccwpck_require__(3119);

class NodeBase {
    constructor(type) {
        Object.defineProperty(this, identity.NODE_TYPE, { value: type });
    }
    /** Create a copy of this node.  */
    clone() {
        const copy = Object.create(Object.getPrototypeOf(this), Object.getOwnPropertyDescriptors(this));
        if (this.range)
            copy.range = this.range.slice();
        return copy;
    }
    /** A plain JavaScript representation of this node. */
    toJS(doc, { mapAsMap, maxAliasCount, onAnchor, reviver } = {}) {
        if (!identity.isDocument(doc))
            throw new TypeError('A document argument is required');
        const ctx = {
            anchors: new Map(),
            doc,
            keep: true,
            mapAsMap: mapAsMap === true,
            mapKeyWarned: false,
            maxAliasCount: typeof maxAliasCount === 'number' ? maxAliasCount : 100
        };
        const res = toJS.toJS(this, '', ctx);
        if (typeof onAnchor === 'function')
            for (const { count, res } of ctx.anchors.values())
                onAnchor(res, count);
        return typeof reviver === 'function'
            ? applyReviver.applyReviver(reviver, { '': res }, '', res)
            : res;
    }
}

exports.NodeBase = NodeBase;


/***/ }),

/***/ 5153:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var createNode = __nccwpck_require__(7616);
var stringifyPair = __nccwpck_require__(9392);
var addPairToJSMap = __nccwpck_require__(1308);
var identity = __nccwpck_require__(1891);

function createPair(key, value, ctx) {
    const k = createNode.createNode(key, undefined, ctx);
    const v = createNode.createNode(value, undefined, ctx);
    return new Pair(k, v);
}
class Pair {
    constructor(key, value = null) {
        Object.defineProperty(this, identity.NODE_TYPE, { value: identity.PAIR });
        this.key = key;
        this.value = value;
    }
    clone(schema) {
        let { key, value } = this;
        if (identity.isNode(key))
            key = key.clone(schema);
        if (identity.isNode(value))
            value = value.clone(schema);
        return new Pair(key, value);
    }
    toJSON(_, ctx) {
        const pair = ctx?.mapAsMap ? new Map() : {};
        return addPairToJSMap.addPairToJSMap(ctx, pair, this);
    }
    toString(ctx, onComment, onChompKeep) {
        return ctx?.doc
            ? stringifyPair.stringifyPair(this, ctx, onComment, onChompKeep)
            : JSON.stringify(this);
    }
}

exports.Pair = Pair;
exports.createPair = createPair;


/***/ }),

/***/ 4305:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Node = __nccwpck_require__(5605);
var toJS = __nccwpck_require__(3119);

const isScalarValue = (value) => !value || (typeof value !== 'function' && typeof value !== 'object');
class Scalar extends Node.NodeBase {
    constructor(value) {
        super(identity.SCALAR);
        this.value = value;
    }
    toJSON(arg, ctx) {
        return ctx?.keep ? this.value : toJS.toJS(this.value, arg, ctx);
    }
    toString() {
        return String(this.value);
    }
}
Scalar.BLOCK_FOLDED = 'BLOCK_FOLDED';
Scalar.BLOCK_LITERAL = 'BLOCK_LITERAL';
Scalar.PLAIN = 'PLAIN';
Scalar.QUOTE_DOUBLE = 'QUOTE_DOUBLE';
Scalar.QUOTE_SINGLE = 'QUOTE_SINGLE';

exports.Scalar = Scalar;
exports.isScalarValue = isScalarValue;


/***/ }),

/***/ 2938:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var stringifyCollection = __nccwpck_require__(3008);
var addPairToJSMap = __nccwpck_require__(1308);
var Collection = __nccwpck_require__(1633);
var identity = __nccwpck_require__(1891);
var Pair = __nccwpck_require__(5153);
var Scalar = __nccwpck_require__(4305);

function findPair(items, key) {
    const k = identity.isScalar(key) ? key.value : key;
    for (const it of items) {
        if (identity.isPair(it)) {
            if (it.key === key || it.key === k)
                return it;
            if (identity.isScalar(it.key) && it.key.value === k)
                return it;
        }
    }
    return undefined;
}
class YAMLMap extends Collection.Collection {
    static get tagName() {
        return 'tag:yaml.org,2002:map';
    }
    constructor(schema) {
        super(identity.MAP, schema);
        this.items = [];
    }
    /**
     * A generic collection parsing method that can be extended
     * to other node classes that inherit from YAMLMap
     */
    static from(schema, obj, ctx) {
        const { keepUndefined, replacer } = ctx;
        const map = new this(schema);
        const add = (key, value) => {
            if (typeof replacer === 'function')
                value = replacer.call(obj, key, value);
            else if (Array.isArray(replacer) && !replacer.includes(key))
                return;
            if (value !== undefined || keepUndefined)
                map.items.push(Pair.createPair(key, value, ctx));
        };
        if (obj instanceof Map) {
            for (const [key, value] of obj)
                add(key, value);
        }
        else if (obj && typeof obj === 'object') {
            for (const key of Object.keys(obj))
                add(key, obj[key]);
        }
        if (typeof schema.sortMapEntries === 'function') {
            map.items.sort(schema.sortMapEntries);
        }
        return map;
    }
    /**
     * Adds a value to the collection.
     *
     * @param overwrite - If not set `true`, using a key that is already in the
     *   collection will throw. Otherwise, overwrites the previous value.
     */
    add(pair, overwrite) {
        let _pair;
        if (identity.isPair(pair))
            _pair = pair;
        else if (!pair || typeof pair !== 'object' || !('key' in pair)) {
            // In TypeScript, this never happens.
            _pair = new Pair.Pair(pair, pair?.value);
        }
        else
            _pair = new Pair.Pair(pair.key, pair.value);
        const prev = findPair(this.items, _pair.key);
        const sortEntries = this.schema?.sortMapEntries;
        if (prev) {
            if (!overwrite)
                throw new Error(`Key ${_pair.key} already set`);
            // For scalars, keep the old node & its comments and anchors
            if (identity.isScalar(prev.value) && Scalar.isScalarValue(_pair.value))
                prev.value.value = _pair.value;
            else
                prev.value = _pair.value;
        }
        else if (sortEntries) {
            const i = this.items.findIndex(item => sortEntries(_pair, item) < 0);
            if (i === -1)
                this.items.push(_pair);
            else
                this.items.splice(i, 0, _pair);
        }
        else {
            this.items.push(_pair);
        }
    }
    delete(key) {
        const it = findPair(this.items, key);
        if (!it)
            return false;
        const del = this.items.splice(this.items.indexOf(it), 1);
        return del.length > 0;
    }
    get(key, keepScalar) {
        const it = findPair(this.items, key);
        const node = it?.value;
        return (!keepScalar && identity.isScalar(node) ? node.value : node) ?? undefined;
    }
    has(key) {
        return !!findPair(this.items, key);
    }
    set(key, value) {
        this.add(new Pair.Pair(key, value), true);
    }
    /**
     * @param ctx - Conversion context, originally set in Document#toJS()
     * @param {Class} Type - If set, forces the returned collection type
     * @returns Instance of Type, Map, or Object
     */
    toJSON(_, ctx, Type) {
        const map = Type ? new Type() : ctx?.mapAsMap ? new Map() : {};
        if (ctx?.onCreate)
            ctx.onCreate(map);
        for (const item of this.items)
            addPairToJSMap.addPairToJSMap(ctx, map, item);
        return map;
    }
    toString(ctx, onComment, onChompKeep) {
        if (!ctx)
            return JSON.stringify(this);
        for (const item of this.items) {
            if (!identity.isPair(item))
                throw new Error(`Map items must all be pairs; found ${JSON.stringify(item)} instead`);
        }
        if (!ctx.allNullValues && this.hasAllNullValues(false))
            ctx = Object.assign({}, ctx, { allNullValues: true });
        return stringifyCollection.stringifyCollection(this, ctx, {
            blockItemPrefix: '',
            flowChars: { start: '{', end: '}' },
            itemIndent: ctx.indent || '',
            onChompKeep,
            onComment
        });
    }
}

exports.YAMLMap = YAMLMap;
exports.findPair = findPair;


/***/ }),

/***/ 3571:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var createNode = __nccwpck_require__(7616);
var stringifyCollection = __nccwpck_require__(3008);
var Collection = __nccwpck_require__(1633);
var identity = __nccwpck_require__(1891);
var Scalar = __nccwpck_require__(4305);
var toJS = __nccwpck_require__(3119);

class YAMLSeq extends Collection.Collection {
    static get tagName() {
        return 'tag:yaml.org,2002:seq';
    }
    constructor(schema) {
        super(identity.SEQ, schema);
        this.items = [];
    }
    add(value) {
        this.items.push(value);
    }
    /**
     * Removes a value from the collection.
     *
     * `key` must contain a representation of an integer for this to succeed.
     * It may be wrapped in a `Scalar`.
     *
     * @returns `true` if the item was found and removed.
     */
    delete(key) {
        const idx = asItemIndex(key);
        if (typeof idx !== 'number')
            return false;
        const del = this.items.splice(idx, 1);
        return del.length > 0;
    }
    get(key, keepScalar) {
        const idx = asItemIndex(key);
        if (typeof idx !== 'number')
            return undefined;
        const it = this.items[idx];
        return !keepScalar && identity.isScalar(it) ? it.value : it;
    }
    /**
     * Checks if the collection includes a value with the key `key`.
     *
     * `key` must contain a representation of an integer for this to succeed.
     * It may be wrapped in a `Scalar`.
     */
    has(key) {
        const idx = asItemIndex(key);
        return typeof idx === 'number' && idx < this.items.length;
    }
    /**
     * Sets a value in this collection. For `!!set`, `value` needs to be a
     * boolean to add/remove the item from the set.
     *
     * If `key` does not contain a representation of an integer, this will throw.
     * It may be wrapped in a `Scalar`.
     */
    set(key, value) {
        const idx = asItemIndex(key);
        if (typeof idx !== 'number')
            throw new Error(`Expected a valid index, not ${key}.`);
        const prev = this.items[idx];
        if (identity.isScalar(prev) && Scalar.isScalarValue(value))
            prev.value = value;
        else
            this.items[idx] = value;
    }
    toJSON(_, ctx) {
        const seq = [];
        if (ctx?.onCreate)
            ctx.onCreate(seq);
        let i = 0;
        for (const item of this.items)
            seq.push(toJS.toJS(item, String(i++), ctx));
        return seq;
    }
    toString(ctx, onComment, onChompKeep) {
        if (!ctx)
            return JSON.stringify(this);
        return stringifyCollection.stringifyCollection(this, ctx, {
            blockItemPrefix: '- ',
            flowChars: { start: '[', end: ']' },
            itemIndent: (ctx.indent || '') + '  ',
            onChompKeep,
            onComment
        });
    }
    static from(schema, obj, ctx) {
        const { replacer } = ctx;
        const seq = new this(schema);
        if (obj && Symbol.iterator in Object(obj)) {
            let i = 0;
            for (let it of obj) {
                if (typeof replacer === 'function') {
                    const key = obj instanceof Set ? it : String(i++);
                    it = replacer.call(obj, key, it);
                }
                seq.items.push(createNode.createNode(it, undefined, ctx));
            }
        }
        return seq;
    }
}
function asItemIndex(key) {
    let idx = identity.isScalar(key) ? key.value : key;
    if (idx && typeof idx === 'string')
        idx = Number(idx);
    return typeof idx === 'number' && Number.isInteger(idx) && idx >= 0
        ? idx
        : null;
}

exports.YAMLSeq = YAMLSeq;


/***/ }),

/***/ 1308:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var log = __nccwpck_require__(6669);
var merge = __nccwpck_require__(4376);
var stringify = __nccwpck_require__(3376);
var identity = __nccwpck_require__(1891);
var toJS = __nccwpck_require__(3119);

function addPairToJSMap(ctx, map, { key, value }) {
    if (identity.isNode(key) && key.addToJSMap)
        key.addToJSMap(ctx, map, value);
    // TODO: Should drop this special case for bare << handling
    else if (merge.isMergeKey(ctx, key))
        merge.addMergeToJSMap(ctx, map, value);
    else {
        const jsKey = toJS.toJS(key, '', ctx);
        if (map instanceof Map) {
            map.set(jsKey, toJS.toJS(value, jsKey, ctx));
        }
        else if (map instanceof Set) {
            map.add(jsKey);
        }
        else {
            const stringKey = stringifyKey(key, jsKey, ctx);
            const jsValue = toJS.toJS(value, stringKey, ctx);
            if (stringKey in map)
                Object.defineProperty(map, stringKey, {
                    value: jsValue,
                    writable: true,
                    enumerable: true,
                    configurable: true
                });
            else
                map[stringKey] = jsValue;
        }
    }
    return map;
}
function stringifyKey(key, jsKey, ctx) {
    if (jsKey === null)
        return '';
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    if (typeof jsKey !== 'object')
        return String(jsKey);
    if (identity.isNode(key) && ctx?.doc) {
        const strCtx = stringify.createStringifyContext(ctx.doc, {});
        strCtx.anchors = new Set();
        for (const node of ctx.anchors.keys())
            strCtx.anchors.add(node.anchor);
        strCtx.inFlow = true;
        strCtx.inStringifyKey = true;
        const strKey = key.toString(strCtx);
        if (!ctx.mapKeyWarned) {
            let jsonStr = JSON.stringify(strKey);
            if (jsonStr.length > 40)
                jsonStr = jsonStr.substring(0, 36) + '..."';
            log.warn(ctx.doc.options.logLevel, `Keys with collection values will be stringified due to JS Object restrictions: ${jsonStr}. Set mapAsMap: true to use object keys.`);
            ctx.mapKeyWarned = true;
        }
        return strKey;
    }
    return JSON.stringify(jsKey);
}

exports.addPairToJSMap = addPairToJSMap;


/***/ }),

/***/ 1891:
/***/ ((__unused_webpack_module, exports) => {



const ALIAS = Symbol.for('yaml.alias');
const DOC = Symbol.for('yaml.document');
const MAP = Symbol.for('yaml.map');
const PAIR = Symbol.for('yaml.pair');
const SCALAR = Symbol.for('yaml.scalar');
const SEQ = Symbol.for('yaml.seq');
const NODE_TYPE = Symbol.for('yaml.node.type');
const isAlias = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === ALIAS;
const isDocument = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === DOC;
const isMap = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === MAP;
const isPair = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === PAIR;
const isScalar = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === SCALAR;
const isSeq = (node) => !!node && typeof node === 'object' && node[NODE_TYPE] === SEQ;
function isCollection(node) {
    if (node && typeof node === 'object')
        switch (node[NODE_TYPE]) {
            case MAP:
            case SEQ:
                return true;
        }
    return false;
}
function isNode(node) {
    if (node && typeof node === 'object')
        switch (node[NODE_TYPE]) {
            case ALIAS:
            case MAP:
            case SCALAR:
            case SEQ:
                return true;
        }
    return false;
}
const hasAnchor = (node) => (isScalar(node) || isCollection(node)) && !!node.anchor;

exports.ALIAS = ALIAS;
exports.DOC = DOC;
exports.MAP = MAP;
exports.NODE_TYPE = NODE_TYPE;
exports.PAIR = PAIR;
exports.SCALAR = SCALAR;
exports.SEQ = SEQ;
exports.hasAnchor = hasAnchor;
exports.isAlias = isAlias;
exports.isCollection = isCollection;
exports.isDocument = isDocument;
exports.isMap = isMap;
exports.isNode = isNode;
exports.isPair = isPair;
exports.isScalar = isScalar;
exports.isSeq = isSeq;


/***/ }),

/***/ 3119:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);

/**
 * Recursively convert any node or its contents to native JavaScript
 *
 * @param value - The input value
 * @param arg - If `value` defines a `toJSON()` method, use this
 *   as its first argument
 * @param ctx - Conversion context, originally set in Document#toJS(). If
 *   `{ keep: true }` is not set, output should be suitable for JSON
 *   stringification.
 */
function toJS(value, arg, ctx) {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    if (Array.isArray(value))
        return value.map((v, i) => toJS(v, String(i), ctx));
    if (value && typeof value.toJSON === 'function') {
        // eslint-disable-next-line @typescript-eslint/no-unsafe-call
        if (!ctx || !identity.hasAnchor(value))
            return value.toJSON(arg, ctx);
        const data = { aliasCount: 0, count: 1, res: undefined };
        ctx.anchors.set(value, data);
        ctx.onCreate = res => {
            data.res = res;
            delete ctx.onCreate;
        };
        const res = value.toJSON(arg, ctx);
        if (ctx.onCreate)
            ctx.onCreate(res);
        return res;
    }
    if (typeof value === 'bigint' && !ctx?.keep)
        return Number(value);
    return value;
}

exports.toJS = toJS;


/***/ }),

/***/ 6242:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var resolveBlockScalar = __nccwpck_require__(293);
var resolveFlowScalar = __nccwpck_require__(7686);
var errors = __nccwpck_require__(7460);
var stringifyString = __nccwpck_require__(3665);

function resolveAsScalar(token, strict = true, onError) {
    if (token) {
        const _onError = (pos, code, message) => {
            const offset = typeof pos === 'number' ? pos : Array.isArray(pos) ? pos[0] : pos.offset;
            if (onError)
                onError(offset, code, message);
            else
                throw new errors.YAMLParseError([offset, offset + 1], code, message);
        };
        switch (token.type) {
            case 'scalar':
            case 'single-quoted-scalar':
            case 'double-quoted-scalar':
                return resolveFlowScalar.resolveFlowScalar(token, strict, _onError);
            case 'block-scalar':
                return resolveBlockScalar.resolveBlockScalar({ options: { strict } }, token, _onError);
        }
    }
    return null;
}
/**
 * Create a new scalar token with `value`
 *
 * Values that represent an actual string but may be parsed as a different type should use a `type` other than `'PLAIN'`,
 * as this function does not support any schema operations and won't check for such conflicts.
 *
 * @param value The string representation of the value, which will have its content properly indented.
 * @param context.end Comments and whitespace after the end of the value, or after the block scalar header. If undefined, a newline will be added.
 * @param context.implicitKey Being within an implicit key may affect the resolved type of the token's value.
 * @param context.indent The indent level of the token.
 * @param context.inFlow Is this scalar within a flow collection? This may affect the resolved type of the token's value.
 * @param context.offset The offset position of the token.
 * @param context.type The preferred type of the scalar token. If undefined, the previous type of the `token` will be used, defaulting to `'PLAIN'`.
 */
function createScalarToken(value, context) {
    const { implicitKey = false, indent, inFlow = false, offset = -1, type = 'PLAIN' } = context;
    const source = stringifyString.stringifyString({ type, value }, {
        implicitKey,
        indent: indent > 0 ? ' '.repeat(indent) : '',
        inFlow,
        options: { blockQuote: true, lineWidth: -1 }
    });
    const end = context.end ?? [
        { type: 'newline', offset: -1, indent, source: '\n' }
    ];
    switch (source[0]) {
        case '|':
        case '>': {
            const he = source.indexOf('\n');
            const head = source.substring(0, he);
            const body = source.substring(he + 1) + '\n';
            const props = [
                { type: 'block-scalar-header', offset, indent, source: head }
            ];
            if (!addEndtoBlockProps(props, end))
                props.push({ type: 'newline', offset: -1, indent, source: '\n' });
            return { type: 'block-scalar', offset, indent, props, source: body };
        }
        case '"':
            return { type: 'double-quoted-scalar', offset, indent, source, end };
        case "'":
            return { type: 'single-quoted-scalar', offset, indent, source, end };
        default:
            return { type: 'scalar', offset, indent, source, end };
    }
}
/**
 * Set the value of `token` to the given string `value`, overwriting any previous contents and type that it may have.
 *
 * Best efforts are made to retain any comments previously associated with the `token`,
 * though all contents within a collection's `items` will be overwritten.
 *
 * Values that represent an actual string but may be parsed as a different type should use a `type` other than `'PLAIN'`,
 * as this function does not support any schema operations and won't check for such conflicts.
 *
 * @param token Any token. If it does not include an `indent` value, the value will be stringified as if it were an implicit key.
 * @param value The string representation of the value, which will have its content properly indented.
 * @param context.afterKey In most cases, values after a key should have an additional level of indentation.
 * @param context.implicitKey Being within an implicit key may affect the resolved type of the token's value.
 * @param context.inFlow Being within a flow collection may affect the resolved type of the token's value.
 * @param context.type The preferred type of the scalar token. If undefined, the previous type of the `token` will be used, defaulting to `'PLAIN'`.
 */
function setScalarValue(token, value, context = {}) {
    let { afterKey = false, implicitKey = false, inFlow = false, type } = context;
    let indent = 'indent' in token ? token.indent : null;
    if (afterKey && typeof indent === 'number')
        indent += 2;
    if (!type)
        switch (token.type) {
            case 'single-quoted-scalar':
                type = 'QUOTE_SINGLE';
                break;
            case 'double-quoted-scalar':
                type = 'QUOTE_DOUBLE';
                break;
            case 'block-scalar': {
                const header = token.props[0];
                if (header.type !== 'block-scalar-header')
                    throw new Error('Invalid block scalar header');
                type = header.source[0] === '>' ? 'BLOCK_FOLDED' : 'BLOCK_LITERAL';
                break;
            }
            default:
                type = 'PLAIN';
        }
    const source = stringifyString.stringifyString({ type, value }, {
        implicitKey: implicitKey || indent === null,
        indent: indent !== null && indent > 0 ? ' '.repeat(indent) : '',
        inFlow,
        options: { blockQuote: true, lineWidth: -1 }
    });
    switch (source[0]) {
        case '|':
        case '>':
            setBlockScalarValue(token, source);
            break;
        case '"':
            setFlowScalarValue(token, source, 'double-quoted-scalar');
            break;
        case "'":
            setFlowScalarValue(token, source, 'single-quoted-scalar');
            break;
        default:
            setFlowScalarValue(token, source, 'scalar');
    }
}
function setBlockScalarValue(token, source) {
    const he = source.indexOf('\n');
    const head = source.substring(0, he);
    const body = source.substring(he + 1) + '\n';
    if (token.type === 'block-scalar') {
        const header = token.props[0];
        if (header.type !== 'block-scalar-header')
            throw new Error('Invalid block scalar header');
        header.source = head;
        token.source = body;
    }
    else {
        const { offset } = token;
        const indent = 'indent' in token ? token.indent : -1;
        const props = [
            { type: 'block-scalar-header', offset, indent, source: head }
        ];
        if (!addEndtoBlockProps(props, 'end' in token ? token.end : undefined))
            props.push({ type: 'newline', offset: -1, indent, source: '\n' });
        for (const key of Object.keys(token))
            if (key !== 'type' && key !== 'offset')
                delete token[key];
        Object.assign(token, { type: 'block-scalar', indent, props, source: body });
    }
}
/** @returns `true` if last token is a newline */
function addEndtoBlockProps(props, end) {
    if (end)
        for (const st of end)
            switch (st.type) {
                case 'space':
                case 'comment':
                    props.push(st);
                    break;
                case 'newline':
                    props.push(st);
                    return true;
            }
    return false;
}
function setFlowScalarValue(token, source, type) {
    switch (token.type) {
        case 'scalar':
        case 'double-quoted-scalar':
        case 'single-quoted-scalar':
            token.type = type;
            token.source = source;
            break;
        case 'block-scalar': {
            const end = token.props.slice(1);
            let oa = source.length;
            if (token.props[0].type === 'block-scalar-header')
                oa -= token.props[0].source.length;
            for (const tok of end)
                tok.offset += oa;
            delete token.props;
            Object.assign(token, { type, source, end });
            break;
        }
        case 'block-map':
        case 'block-seq': {
            const offset = token.offset + source.length;
            const nl = { type: 'newline', offset, indent: token.indent, source: '\n' };
            delete token.items;
            Object.assign(token, { type, source, end: [nl] });
            break;
        }
        default: {
            const indent = 'indent' in token ? token.indent : -1;
            const end = 'end' in token && Array.isArray(token.end)
                ? token.end.filter(st => st.type === 'space' ||
                    st.type === 'comment' ||
                    st.type === 'newline')
                : [];
            for (const key of Object.keys(token))
                if (key !== 'type' && key !== 'offset')
                    delete token[key];
            Object.assign(token, { type, indent, source, end });
        }
    }
}

exports.createScalarToken = createScalarToken;
exports.resolveAsScalar = resolveAsScalar;
exports.setScalarValue = setScalarValue;


/***/ }),

/***/ 2393:
/***/ ((__unused_webpack_module, exports) => {



/**
 * Stringify a CST document, token, or collection item
 *
 * Fair warning: This applies no validation whatsoever, and
 * simply concatenates the sources in their logical order.
 */
const stringify = (cst) => 'type' in cst ? stringifyToken(cst) : stringifyItem(cst);
function stringifyToken(token) {
    switch (token.type) {
        case 'block-scalar': {
            let res = '';
            for (const tok of token.props)
                res += stringifyToken(tok);
            return res + token.source;
        }
        case 'block-map':
        case 'block-seq': {
            let res = '';
            for (const item of token.items)
                res += stringifyItem(item);
            return res;
        }
        case 'flow-collection': {
            let res = token.start.source;
            for (const item of token.items)
                res += stringifyItem(item);
            for (const st of token.end)
                res += st.source;
            return res;
        }
        case 'document': {
            let res = stringifyItem(token);
            if (token.end)
                for (const st of token.end)
                    res += st.source;
            return res;
        }
        default: {
            let res = token.source;
            if ('end' in token && token.end)
                for (const st of token.end)
                    res += st.source;
            return res;
        }
    }
}
function stringifyItem({ start, key, sep, value }) {
    let res = '';
    for (const st of start)
        res += st.source;
    if (key)
        res += stringifyToken(key);
    if (sep)
        for (const st of sep)
            res += st.source;
    if (value)
        res += stringifyToken(value);
    return res;
}

exports.stringify = stringify;


/***/ }),

/***/ 5207:
/***/ ((__unused_webpack_module, exports) => {



const BREAK = Symbol('break visit');
const SKIP = Symbol('skip children');
const REMOVE = Symbol('remove item');
/**
 * Apply a visitor to a CST document or item.
 *
 * Walks through the tree (depth-first) starting from the root, calling a
 * `visitor` function with two arguments when entering each item:
 *   - `item`: The current item, which included the following members:
 *     - `start: SourceToken[]` – Source tokens before the key or value,
 *       possibly including its anchor or tag.
 *     - `key?: Token | null` – Set for pair values. May then be `null`, if
 *       the key before the `:` separator is empty.
 *     - `sep?: SourceToken[]` – Source tokens between the key and the value,
 *       which should include the `:` map value indicator if `value` is set.
 *     - `value?: Token` – The value of a sequence item, or of a map pair.
 *   - `path`: The steps from the root to the current node, as an array of
 *     `['key' | 'value', number]` tuples.
 *
 * The return value of the visitor may be used to control the traversal:
 *   - `undefined` (default): Do nothing and continue
 *   - `visit.SKIP`: Do not visit the children of this token, continue with
 *      next sibling
 *   - `visit.BREAK`: Terminate traversal completely
 *   - `visit.REMOVE`: Remove the current item, then continue with the next one
 *   - `number`: Set the index of the next step. This is useful especially if
 *     the index of the current token has changed.
 *   - `function`: Define the next visitor for this item. After the original
 *     visitor is called on item entry, next visitors are called after handling
 *     a non-empty `key` and when exiting the item.
 */
function visit(cst, visitor) {
    if ('type' in cst && cst.type === 'document')
        cst = { start: cst.start, value: cst.value };
    _visit(Object.freeze([]), cst, visitor);
}
// Without the `as symbol` casts, TS declares these in the `visit`
// namespace using `var`, but then complains about that because
// `unique symbol` must be `const`.
/** Terminate visit traversal completely */
visit.BREAK = BREAK;
/** Do not visit the children of the current item */
visit.SKIP = SKIP;
/** Remove the current item */
visit.REMOVE = REMOVE;
/** Find the item at `path` from `cst` as the root */
visit.itemAtPath = (cst, path) => {
    let item = cst;
    for (const [field, index] of path) {
        const tok = item?.[field];
        if (tok && 'items' in tok) {
            item = tok.items[index];
        }
        else
            return undefined;
    }
    return item;
};
/**
 * Get the immediate parent collection of the item at `path` from `cst` as the root.
 *
 * Throws an error if the collection is not found, which should never happen if the item itself exists.
 */
visit.parentCollection = (cst, path) => {
    const parent = visit.itemAtPath(cst, path.slice(0, -1));
    const field = path[path.length - 1][0];
    const coll = parent?.[field];
    if (coll && 'items' in coll)
        return coll;
    throw new Error('Parent collection not found');
};
function _visit(path, item, visitor) {
    let ctrl = visitor(item, path);
    if (typeof ctrl === 'symbol')
        return ctrl;
    for (const field of ['key', 'value']) {
        const token = item[field];
        if (token && 'items' in token) {
            for (let i = 0; i < token.items.length; ++i) {
                const ci = _visit(Object.freeze(path.concat([[field, i]])), token.items[i], visitor);
                if (typeof ci === 'number')
                    i = ci - 1;
                else if (ci === BREAK)
                    return BREAK;
                else if (ci === REMOVE) {
                    token.items.splice(i, 1);
                    i -= 1;
                }
            }
            if (typeof ctrl === 'function' && field === 'key')
                ctrl = ctrl(item, path);
        }
    }
    return typeof ctrl === 'function' ? ctrl(item, path) : ctrl;
}

exports.visit = visit;


/***/ }),

/***/ 3921:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var cstScalar = __nccwpck_require__(6242);
var cstStringify = __nccwpck_require__(2393);
var cstVisit = __nccwpck_require__(5207);

/** The byte order mark */
const BOM = '\u{FEFF}';
/** Start of doc-mode */
const DOCUMENT = '\x02'; // C0: Start of Text
/** Unexpected end of flow-mode */
const FLOW_END = '\x18'; // C0: Cancel
/** Next token is a scalar value */
const SCALAR = '\x1f'; // C0: Unit Separator
/** @returns `true` if `token` is a flow or block collection */
const isCollection = (token) => !!token && 'items' in token;
/** @returns `true` if `token` is a flow or block scalar; not an alias */
const isScalar = (token) => !!token &&
    (token.type === 'scalar' ||
        token.type === 'single-quoted-scalar' ||
        token.type === 'double-quoted-scalar' ||
        token.type === 'block-scalar');
/* istanbul ignore next */
/** Get a printable representation of a lexer token */
function prettyToken(token) {
    switch (token) {
        case BOM:
            return '<BOM>';
        case DOCUMENT:
            return '<DOC>';
        case FLOW_END:
            return '<FLOW_END>';
        case SCALAR:
            return '<SCALAR>';
        default:
            return JSON.stringify(token);
    }
}
/** Identify the type of a lexer token. May return `null` for unknown tokens. */
function tokenType(source) {
    switch (source) {
        case BOM:
            return 'byte-order-mark';
        case DOCUMENT:
            return 'doc-mode';
        case FLOW_END:
            return 'flow-error-end';
        case SCALAR:
            return 'scalar';
        case '---':
            return 'doc-start';
        case '...':
            return 'doc-end';
        case '':
        case '\n':
        case '\r\n':
            return 'newline';
        case '-':
            return 'seq-item-ind';
        case '?':
            return 'explicit-key-ind';
        case ':':
            return 'map-value-ind';
        case '{':
            return 'flow-map-start';
        case '}':
            return 'flow-map-end';
        case '[':
            return 'flow-seq-start';
        case ']':
            return 'flow-seq-end';
        case ',':
            return 'comma';
    }
    switch (source[0]) {
        case ' ':
        case '\t':
            return 'space';
        case '#':
            return 'comment';
        case '%':
            return 'directive-line';
        case '*':
            return 'alias';
        case '&':
            return 'anchor';
        case '!':
            return 'tag';
        case "'":
            return 'single-quoted-scalar';
        case '"':
            return 'double-quoted-scalar';
        case '|':
        case '>':
            return 'block-scalar-header';
    }
    return null;
}

exports.createScalarToken = cstScalar.createScalarToken;
exports.resolveAsScalar = cstScalar.resolveAsScalar;
exports.setScalarValue = cstScalar.setScalarValue;
exports.stringify = cstStringify.stringify;
exports.visit = cstVisit.visit;
exports.BOM = BOM;
exports.DOCUMENT = DOCUMENT;
exports.FLOW_END = FLOW_END;
exports.SCALAR = SCALAR;
exports.isCollection = isCollection;
exports.isScalar = isScalar;
exports.prettyToken = prettyToken;
exports.tokenType = tokenType;


/***/ }),

/***/ 1893:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var cst = __nccwpck_require__(3921);

/*
START -> stream

stream
  directive -> line-end -> stream
  indent + line-end -> stream
  [else] -> line-start

line-end
  comment -> line-end
  newline -> .
  input-end -> END

line-start
  doc-start -> doc
  doc-end -> stream
  [else] -> indent -> block-start

block-start
  seq-item-start -> block-start
  explicit-key-start -> block-start
  map-value-start -> block-start
  [else] -> doc

doc
  line-end -> line-start
  spaces -> doc
  anchor -> doc
  tag -> doc
  flow-start -> flow -> doc
  flow-end -> error -> doc
  seq-item-start -> error -> doc
  explicit-key-start -> error -> doc
  map-value-start -> doc
  alias -> doc
  quote-start -> quoted-scalar -> doc
  block-scalar-header -> line-end -> block-scalar(min) -> line-start
  [else] -> plain-scalar(false, min) -> doc

flow
  line-end -> flow
  spaces -> flow
  anchor -> flow
  tag -> flow
  flow-start -> flow -> flow
  flow-end -> .
  seq-item-start -> error -> flow
  explicit-key-start -> flow
  map-value-start -> flow
  alias -> flow
  quote-start -> quoted-scalar -> flow
  comma -> flow
  [else] -> plain-scalar(true, 0) -> flow

quoted-scalar
  quote-end -> .
  [else] -> quoted-scalar

block-scalar(min)
  newline + peek(indent < min) -> .
  [else] -> block-scalar(min)

plain-scalar(is-flow, min)
  scalar-end(is-flow) -> .
  peek(newline + (indent < min)) -> .
  [else] -> plain-scalar(min)
*/
function isEmpty(ch) {
    switch (ch) {
        case undefined:
        case ' ':
        case '\n':
        case '\r':
        case '\t':
            return true;
        default:
            return false;
    }
}
const hexDigits = new Set('0123456789ABCDEFabcdef');
const tagChars = new Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-#;/?:@&=+$_.!~*'()");
const flowIndicatorChars = new Set(',[]{}');
const invalidAnchorChars = new Set(' ,[]{}\n\r\t');
const isNotAnchorChar = (ch) => !ch || invalidAnchorChars.has(ch);
/**
 * Splits an input string into lexical tokens, i.e. smaller strings that are
 * easily identifiable by `tokens.tokenType()`.
 *
 * Lexing starts always in a "stream" context. Incomplete input may be buffered
 * until a complete token can be emitted.
 *
 * In addition to slices of the original input, the following control characters
 * may also be emitted:
 *
 * - `\x02` (Start of Text): A document starts with the next token
 * - `\x18` (Cancel): Unexpected end of flow-mode (indicates an error)
 * - `\x1f` (Unit Separator): Next token is a scalar value
 * - `\u{FEFF}` (Byte order mark): Emitted separately outside documents
 */
class Lexer {
    constructor() {
        /**
         * Flag indicating whether the end of the current buffer marks the end of
         * all input
         */
        this.atEnd = false;
        /**
         * Explicit indent set in block scalar header, as an offset from the current
         * minimum indent, so e.g. set to 1 from a header `|2+`. Set to -1 if not
         * explicitly set.
         */
        this.blockScalarIndent = -1;
        /**
         * Block scalars that include a + (keep) chomping indicator in their header
         * include trailing empty lines, which are otherwise excluded from the
         * scalar's contents.
         */
        this.blockScalarKeep = false;
        /** Current input */
        this.buffer = '';
        /**
         * Flag noting whether the map value indicator : can immediately follow this
         * node within a flow context.
         */
        this.flowKey = false;
        /** Count of surrounding flow collection levels. */
        this.flowLevel = 0;
        /**
         * Minimum level of indentation required for next lines to be parsed as a
         * part of the current scalar value.
         */
        this.indentNext = 0;
        /** Indentation level of the current line. */
        this.indentValue = 0;
        /** Position of the next \n character. */
        this.lineEndPos = null;
        /** Stores the state of the lexer if reaching the end of incpomplete input */
        this.next = null;
        /** A pointer to `buffer`; the current position of the lexer. */
        this.pos = 0;
    }
    /**
     * Generate YAML tokens from the `source` string. If `incomplete`,
     * a part of the last line may be left as a buffer for the next call.
     *
     * @returns A generator of lexical tokens
     */
    *lex(source, incomplete = false) {
        if (source) {
            if (typeof source !== 'string')
                throw TypeError('source is not a string');
            this.buffer = this.buffer ? this.buffer + source : source;
            this.lineEndPos = null;
        }
        this.atEnd = !incomplete;
        let next = this.next ?? 'stream';
        while (next && (incomplete || this.hasChars(1)))
            next = yield* this.parseNext(next);
    }
    atLineEnd() {
        let i = this.pos;
        let ch = this.buffer[i];
        while (ch === ' ' || ch === '\t')
            ch = this.buffer[++i];
        if (!ch || ch === '#' || ch === '\n')
            return true;
        if (ch === '\r')
            return this.buffer[i + 1] === '\n';
        return false;
    }
    charAt(n) {
        return this.buffer[this.pos + n];
    }
    continueScalar(offset) {
        let ch = this.buffer[offset];
        if (this.indentNext > 0) {
            let indent = 0;
            while (ch === ' ')
                ch = this.buffer[++indent + offset];
            if (ch === '\r') {
                const next = this.buffer[indent + offset + 1];
                if (next === '\n' || (!next && !this.atEnd))
                    return offset + indent + 1;
            }
            return ch === '\n' || indent >= this.indentNext || (!ch && !this.atEnd)
                ? offset + indent
                : -1;
        }
        if (ch === '-' || ch === '.') {
            const dt = this.buffer.substr(offset, 3);
            if ((dt === '---' || dt === '...') && isEmpty(this.buffer[offset + 3]))
                return -1;
        }
        return offset;
    }
    getLine() {
        let end = this.lineEndPos;
        if (typeof end !== 'number' || (end !== -1 && end < this.pos)) {
            end = this.buffer.indexOf('\n', this.pos);
            this.lineEndPos = end;
        }
        if (end === -1)
            return this.atEnd ? this.buffer.substring(this.pos) : null;
        if (this.buffer[end - 1] === '\r')
            end -= 1;
        return this.buffer.substring(this.pos, end);
    }
    hasChars(n) {
        return this.pos + n <= this.buffer.length;
    }
    setNext(state) {
        this.buffer = this.buffer.substring(this.pos);
        this.pos = 0;
        this.lineEndPos = null;
        this.next = state;
        return null;
    }
    peek(n) {
        return this.buffer.substr(this.pos, n);
    }
    *parseNext(next) {
        switch (next) {
            case 'stream':
                return yield* this.parseStream();
            case 'line-start':
                return yield* this.parseLineStart();
            case 'block-start':
                return yield* this.parseBlockStart();
            case 'doc':
                return yield* this.parseDocument();
            case 'flow':
                return yield* this.parseFlowCollection();
            case 'quoted-scalar':
                return yield* this.parseQuotedScalar();
            case 'block-scalar':
                return yield* this.parseBlockScalar();
            case 'plain-scalar':
                return yield* this.parsePlainScalar();
        }
    }
    *parseStream() {
        let line = this.getLine();
        if (line === null)
            return this.setNext('stream');
        if (line[0] === cst.BOM) {
            yield* this.pushCount(1);
            line = line.substring(1);
        }
        if (line[0] === '%') {
            let dirEnd = line.length;
            let cs = line.indexOf('#');
            while (cs !== -1) {
                const ch = line[cs - 1];
                if (ch === ' ' || ch === '\t') {
                    dirEnd = cs - 1;
                    break;
                }
                else {
                    cs = line.indexOf('#', cs + 1);
                }
            }
            while (true) {
                const ch = line[dirEnd - 1];
                if (ch === ' ' || ch === '\t')
                    dirEnd -= 1;
                else
                    break;
            }
            const n = (yield* this.pushCount(dirEnd)) + (yield* this.pushSpaces(true));
            yield* this.pushCount(line.length - n); // possible comment
            this.pushNewline();
            return 'stream';
        }
        if (this.atLineEnd()) {
            const sp = yield* this.pushSpaces(true);
            yield* this.pushCount(line.length - sp);
            yield* this.pushNewline();
            return 'stream';
        }
        yield cst.DOCUMENT;
        return yield* this.parseLineStart();
    }
    *parseLineStart() {
        const ch = this.charAt(0);
        if (!ch && !this.atEnd)
            return this.setNext('line-start');
        if (ch === '-' || ch === '.') {
            if (!this.atEnd && !this.hasChars(4))
                return this.setNext('line-start');
            const s = this.peek(3);
            if ((s === '---' || s === '...') && isEmpty(this.charAt(3))) {
                yield* this.pushCount(3);
                this.indentValue = 0;
                this.indentNext = 0;
                return s === '---' ? 'doc' : 'stream';
            }
        }
        this.indentValue = yield* this.pushSpaces(false);
        if (this.indentNext > this.indentValue && !isEmpty(this.charAt(1)))
            this.indentNext = this.indentValue;
        return yield* this.parseBlockStart();
    }
    *parseBlockStart() {
        const [ch0, ch1] = this.peek(2);
        if (!ch1 && !this.atEnd)
            return this.setNext('block-start');
        if ((ch0 === '-' || ch0 === '?' || ch0 === ':') && isEmpty(ch1)) {
            const n = (yield* this.pushCount(1)) + (yield* this.pushSpaces(true));
            this.indentNext = this.indentValue + 1;
            this.indentValue += n;
            return 'block-start';
        }
        return 'doc';
    }
    *parseDocument() {
        yield* this.pushSpaces(true);
        const line = this.getLine();
        if (line === null)
            return this.setNext('doc');
        let n = yield* this.pushIndicators();
        switch (line[n]) {
            case '#':
                yield* this.pushCount(line.length - n);
            // fallthrough
            case undefined:
                yield* this.pushNewline();
                return yield* this.parseLineStart();
            case '{':
            case '[':
                yield* this.pushCount(1);
                this.flowKey = false;
                this.flowLevel = 1;
                return 'flow';
            case '}':
            case ']':
                // this is an error
                yield* this.pushCount(1);
                return 'doc';
            case '*':
                yield* this.pushUntil(isNotAnchorChar);
                return 'doc';
            case '"':
            case "'":
                return yield* this.parseQuotedScalar();
            case '|':
            case '>':
                n += yield* this.parseBlockScalarHeader();
                n += yield* this.pushSpaces(true);
                yield* this.pushCount(line.length - n);
                yield* this.pushNewline();
                return yield* this.parseBlockScalar();
            default:
                return yield* this.parsePlainScalar();
        }
    }
    *parseFlowCollection() {
        let nl, sp;
        let indent = -1;
        do {
            nl = yield* this.pushNewline();
            if (nl > 0) {
                sp = yield* this.pushSpaces(false);
                this.indentValue = indent = sp;
            }
            else {
                sp = 0;
            }
            sp += yield* this.pushSpaces(true);
        } while (nl + sp > 0);
        const line = this.getLine();
        if (line === null)
            return this.setNext('flow');
        if ((indent !== -1 && indent < this.indentNext && line[0] !== '#') ||
            (indent === 0 &&
                (line.startsWith('---') || line.startsWith('...')) &&
                isEmpty(line[3]))) {
            // Allowing for the terminal ] or } at the same (rather than greater)
            // indent level as the initial [ or { is technically invalid, but
            // failing here would be surprising to users.
            const atFlowEndMarker = indent === this.indentNext - 1 &&
                this.flowLevel === 1 &&
                (line[0] === ']' || line[0] === '}');
            if (!atFlowEndMarker) {
                // this is an error
                this.flowLevel = 0;
                yield cst.FLOW_END;
                return yield* this.parseLineStart();
            }
        }
        let n = 0;
        while (line[n] === ',') {
            n += yield* this.pushCount(1);
            n += yield* this.pushSpaces(true);
            this.flowKey = false;
        }
        n += yield* this.pushIndicators();
        switch (line[n]) {
            case undefined:
                return 'flow';
            case '#':
                yield* this.pushCount(line.length - n);
                return 'flow';
            case '{':
            case '[':
                yield* this.pushCount(1);
                this.flowKey = false;
                this.flowLevel += 1;
                return 'flow';
            case '}':
            case ']':
                yield* this.pushCount(1);
                this.flowKey = true;
                this.flowLevel -= 1;
                return this.flowLevel ? 'flow' : 'doc';
            case '*':
                yield* this.pushUntil(isNotAnchorChar);
                return 'flow';
            case '"':
            case "'":
                this.flowKey = true;
                return yield* this.parseQuotedScalar();
            case ':': {
                const next = this.charAt(1);
                if (this.flowKey || isEmpty(next) || next === ',') {
                    this.flowKey = false;
                    yield* this.pushCount(1);
                    yield* this.pushSpaces(true);
                    return 'flow';
                }
            }
            // fallthrough
            default:
                this.flowKey = false;
                return yield* this.parsePlainScalar();
        }
    }
    *parseQuotedScalar() {
        const quote = this.charAt(0);
        let end = this.buffer.indexOf(quote, this.pos + 1);
        if (quote === "'") {
            while (end !== -1 && this.buffer[end + 1] === "'")
                end = this.buffer.indexOf("'", end + 2);
        }
        else {
            // double-quote
            while (end !== -1) {
                let n = 0;
                while (this.buffer[end - 1 - n] === '\\')
                    n += 1;
                if (n % 2 === 0)
                    break;
                end = this.buffer.indexOf('"', end + 1);
            }
        }
        // Only looking for newlines within the quotes
        const qb = this.buffer.substring(0, end);
        let nl = qb.indexOf('\n', this.pos);
        if (nl !== -1) {
            while (nl !== -1) {
                const cs = this.continueScalar(nl + 1);
                if (cs === -1)
                    break;
                nl = qb.indexOf('\n', cs);
            }
            if (nl !== -1) {
                // this is an error caused by an unexpected unindent
                end = nl - (qb[nl - 1] === '\r' ? 2 : 1);
            }
        }
        if (end === -1) {
            if (!this.atEnd)
                return this.setNext('quoted-scalar');
            end = this.buffer.length;
        }
        yield* this.pushToIndex(end + 1, false);
        return this.flowLevel ? 'flow' : 'doc';
    }
    *parseBlockScalarHeader() {
        this.blockScalarIndent = -1;
        this.blockScalarKeep = false;
        let i = this.pos;
        while (true) {
            const ch = this.buffer[++i];
            if (ch === '+')
                this.blockScalarKeep = true;
            else if (ch > '0' && ch <= '9')
                this.blockScalarIndent = Number(ch) - 1;
            else if (ch !== '-')
                break;
        }
        return yield* this.pushUntil(ch => isEmpty(ch) || ch === '#');
    }
    *parseBlockScalar() {
        let nl = this.pos - 1; // may be -1 if this.pos === 0
        let indent = 0;
        let ch;
        loop: for (let i = this.pos; (ch = this.buffer[i]); ++i) {
            switch (ch) {
                case ' ':
                    indent += 1;
                    break;
                case '\n':
                    nl = i;
                    indent = 0;
                    break;
                case '\r': {
                    const next = this.buffer[i + 1];
                    if (!next && !this.atEnd)
                        return this.setNext('block-scalar');
                    if (next === '\n')
                        break;
                } // fallthrough
                default:
                    break loop;
            }
        }
        if (!ch && !this.atEnd)
            return this.setNext('block-scalar');
        if (indent >= this.indentNext) {
            if (this.blockScalarIndent === -1)
                this.indentNext = indent;
            else {
                this.indentNext =
                    this.blockScalarIndent + (this.indentNext === 0 ? 1 : this.indentNext);
            }
            do {
                const cs = this.continueScalar(nl + 1);
                if (cs === -1)
                    break;
                nl = this.buffer.indexOf('\n', cs);
            } while (nl !== -1);
            if (nl === -1) {
                if (!this.atEnd)
                    return this.setNext('block-scalar');
                nl = this.buffer.length;
            }
        }
        // Trailing insufficiently indented tabs are invalid.
        // To catch that during parsing, we include them in the block scalar value.
        let i = nl + 1;
        ch = this.buffer[i];
        while (ch === ' ')
            ch = this.buffer[++i];
        if (ch === '\t') {
            while (ch === '\t' || ch === ' ' || ch === '\r' || ch === '\n')
                ch = this.buffer[++i];
            nl = i - 1;
        }
        else if (!this.blockScalarKeep) {
            do {
                let i = nl - 1;
                let ch = this.buffer[i];
                if (ch === '\r')
                    ch = this.buffer[--i];
                const lastChar = i; // Drop the line if last char not more indented
                while (ch === ' ')
                    ch = this.buffer[--i];
                if (ch === '\n' && i >= this.pos && i + 1 + indent > lastChar)
                    nl = i;
                else
                    break;
            } while (true);
        }
        yield cst.SCALAR;
        yield* this.pushToIndex(nl + 1, true);
        return yield* this.parseLineStart();
    }
    *parsePlainScalar() {
        const inFlow = this.flowLevel > 0;
        let end = this.pos - 1;
        let i = this.pos - 1;
        let ch;
        while ((ch = this.buffer[++i])) {
            if (ch === ':') {
                const next = this.buffer[i + 1];
                if (isEmpty(next) || (inFlow && flowIndicatorChars.has(next)))
                    break;
                end = i;
            }
            else if (isEmpty(ch)) {
                let next = this.buffer[i + 1];
                if (ch === '\r') {
                    if (next === '\n') {
                        i += 1;
                        ch = '\n';
                        next = this.buffer[i + 1];
                    }
                    else
                        end = i;
                }
                if (next === '#' || (inFlow && flowIndicatorChars.has(next)))
                    break;
                if (ch === '\n') {
                    const cs = this.continueScalar(i + 1);
                    if (cs === -1)
                        break;
                    i = Math.max(i, cs - 2); // to advance, but still account for ' #'
                }
            }
            else {
                if (inFlow && flowIndicatorChars.has(ch))
                    break;
                end = i;
            }
        }
        if (!ch && !this.atEnd)
            return this.setNext('plain-scalar');
        yield cst.SCALAR;
        yield* this.pushToIndex(end + 1, true);
        return inFlow ? 'flow' : 'doc';
    }
    *pushCount(n) {
        if (n > 0) {
            yield this.buffer.substr(this.pos, n);
            this.pos += n;
            return n;
        }
        return 0;
    }
    *pushToIndex(i, allowEmpty) {
        const s = this.buffer.slice(this.pos, i);
        if (s) {
            yield s;
            this.pos += s.length;
            return s.length;
        }
        else if (allowEmpty)
            yield '';
        return 0;
    }
    *pushIndicators() {
        let n = 0;
        loop: while (true) {
            switch (this.charAt(0)) {
                case '!':
                    n += yield* this.pushTag();
                    n += yield* this.pushSpaces(true);
                    continue loop;
                case '&':
                    n += yield* this.pushUntil(isNotAnchorChar);
                    n += yield* this.pushSpaces(true);
                    continue loop;
                case '-': // this is an error
                case '?': // this is an error outside flow collections
                case ':': {
                    const inFlow = this.flowLevel > 0;
                    const ch1 = this.charAt(1);
                    if (isEmpty(ch1) || (inFlow && flowIndicatorChars.has(ch1))) {
                        if (!inFlow)
                            this.indentNext = this.indentValue + 1;
                        else if (this.flowKey)
                            this.flowKey = false;
                        n += yield* this.pushCount(1);
                        n += yield* this.pushSpaces(true);
                        continue loop;
                    }
                }
            }
            break loop;
        }
        return n;
    }
    *pushTag() {
        if (this.charAt(1) === '<') {
            let i = this.pos + 2;
            let ch = this.buffer[i];
            while (!isEmpty(ch) && ch !== '>')
                ch = this.buffer[++i];
            return yield* this.pushToIndex(ch === '>' ? i + 1 : i, false);
        }
        else {
            let i = this.pos + 1;
            let ch = this.buffer[i];
            while (ch) {
                if (tagChars.has(ch))
                    ch = this.buffer[++i];
                else if (ch === '%' &&
                    hexDigits.has(this.buffer[i + 1]) &&
                    hexDigits.has(this.buffer[i + 2])) {
                    ch = this.buffer[(i += 3)];
                }
                else
                    break;
            }
            return yield* this.pushToIndex(i, false);
        }
    }
    *pushNewline() {
        const ch = this.buffer[this.pos];
        if (ch === '\n')
            return yield* this.pushCount(1);
        else if (ch === '\r' && this.charAt(1) === '\n')
            return yield* this.pushCount(2);
        else
            return 0;
    }
    *pushSpaces(allowTabs) {
        let i = this.pos - 1;
        let ch;
        do {
            ch = this.buffer[++i];
        } while (ch === ' ' || (allowTabs && ch === '\t'));
        const n = i - this.pos;
        if (n > 0) {
            yield this.buffer.substr(this.pos, n);
            this.pos = i;
        }
        return n;
    }
    *pushUntil(test) {
        let i = this.pos;
        let ch = this.buffer[i];
        while (!test(ch))
            ch = this.buffer[++i];
        return yield* this.pushToIndex(i, false);
    }
}

exports.Lexer = Lexer;


/***/ }),

/***/ 2808:
/***/ ((__unused_webpack_module, exports) => {



/**
 * Tracks newlines during parsing in order to provide an efficient API for
 * determining the one-indexed `{ line, col }` position for any offset
 * within the input.
 */
class LineCounter {
    constructor() {
        this.lineStarts = [];
        /**
         * Should be called in ascending order. Otherwise, call
         * `lineCounter.lineStarts.sort()` before calling `linePos()`.
         */
        this.addNewLine = (offset) => this.lineStarts.push(offset);
        /**
         * Performs a binary search and returns the 1-indexed { line, col }
         * position of `offset`. If `line === 0`, `addNewLine` has never been
         * called or `offset` is before the first known newline.
         */
        this.linePos = (offset) => {
            let low = 0;
            let high = this.lineStarts.length;
            while (low < high) {
                const mid = (low + high) >> 1; // Math.floor((low + high) / 2)
                if (this.lineStarts[mid] < offset)
                    low = mid + 1;
                else
                    high = mid;
            }
            if (this.lineStarts[low] === offset)
                return { line: low + 1, col: 1 };
            if (low === 0)
                return { line: 0, col: offset };
            const start = this.lineStarts[low - 1];
            return { line: low, col: offset - start + 1 };
        };
    }
}

exports.LineCounter = LineCounter;


/***/ }),

/***/ 3124:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var node_process = __nccwpck_require__(932);
var cst = __nccwpck_require__(3921);
var lexer = __nccwpck_require__(1893);

function includesToken(list, type) {
    for (let i = 0; i < list.length; ++i)
        if (list[i].type === type)
            return true;
    return false;
}
function findNonEmptyIndex(list) {
    for (let i = 0; i < list.length; ++i) {
        switch (list[i].type) {
            case 'space':
            case 'comment':
            case 'newline':
                break;
            default:
                return i;
        }
    }
    return -1;
}
function isFlowToken(token) {
    switch (token?.type) {
        case 'alias':
        case 'scalar':
        case 'single-quoted-scalar':
        case 'double-quoted-scalar':
        case 'flow-collection':
            return true;
        default:
            return false;
    }
}
function getPrevProps(parent) {
    switch (parent.type) {
        case 'document':
            return parent.start;
        case 'block-map': {
            const it = parent.items[parent.items.length - 1];
            return it.sep ?? it.start;
        }
        case 'block-seq':
            return parent.items[parent.items.length - 1].start;
        /* istanbul ignore next should not happen */
        default:
            return [];
    }
}
/** Note: May modify input array */
function getFirstKeyStartProps(prev) {
    if (prev.length === 0)
        return [];
    let i = prev.length;
    loop: while (--i >= 0) {
        switch (prev[i].type) {
            case 'doc-start':
            case 'explicit-key-ind':
            case 'map-value-ind':
            case 'seq-item-ind':
            case 'newline':
                break loop;
        }
    }
    while (prev[++i]?.type === 'space') {
        /* loop */
    }
    return prev.splice(i, prev.length);
}
function arrayPushArray(target, source) {
    // May exhaust call stack with large `source` array
    if (source.length < 1e5)
        Array.prototype.push.apply(target, source);
    else
        for (let i = 0; i < source.length; ++i)
            target.push(source[i]);
}
function fixFlowSeqItems(fc) {
    if (fc.start.type === 'flow-seq-start') {
        for (const it of fc.items) {
            if (it.sep &&
                !it.value &&
                !includesToken(it.start, 'explicit-key-ind') &&
                !includesToken(it.sep, 'map-value-ind')) {
                if (it.key)
                    it.value = it.key;
                delete it.key;
                if (isFlowToken(it.value)) {
                    if (it.value.end)
                        arrayPushArray(it.value.end, it.sep);
                    else
                        it.value.end = it.sep;
                }
                else
                    arrayPushArray(it.start, it.sep);
                delete it.sep;
            }
        }
    }
}
/**
 * A YAML concrete syntax tree (CST) parser
 *
 * ```ts
 * const src: string = ...
 * for (const token of new Parser().parse(src)) {
 *   // token: Token
 * }
 * ```
 *
 * To use the parser with a user-provided lexer:
 *
 * ```ts
 * function* parse(source: string, lexer: Lexer) {
 *   const parser = new Parser()
 *   for (const lexeme of lexer.lex(source))
 *     yield* parser.next(lexeme)
 *   yield* parser.end()
 * }
 *
 * const src: string = ...
 * const lexer = new Lexer()
 * for (const token of parse(src, lexer)) {
 *   // token: Token
 * }
 * ```
 */
class Parser {
    /**
     * @param onNewLine - If defined, called separately with the start position of
     *   each new line (in `parse()`, including the start of input).
     */
    constructor(onNewLine) {
        /** If true, space and sequence indicators count as indentation */
        this.atNewLine = true;
        /** If true, next token is a scalar value */
        this.atScalar = false;
        /** Current indentation level */
        this.indent = 0;
        /** Current offset since the start of parsing */
        this.offset = 0;
        /** On the same line with a block map key */
        this.onKeyLine = false;
        /** Top indicates the node that's currently being built */
        this.stack = [];
        /** The source of the current token, set in parse() */
        this.source = '';
        /** The type of the current token, set in parse() */
        this.type = '';
        // Must be defined after `next()`
        this.lexer = new lexer.Lexer();
        this.onNewLine = onNewLine;
    }
    /**
     * Parse `source` as a YAML stream.
     * If `incomplete`, a part of the last line may be left as a buffer for the next call.
     *
     * Errors are not thrown, but yielded as `{ type: 'error', message }` tokens.
     *
     * @returns A generator of tokens representing each directive, document, and other structure.
     */
    *parse(source, incomplete = false) {
        if (this.onNewLine && this.offset === 0)
            this.onNewLine(0);
        for (const lexeme of this.lexer.lex(source, incomplete))
            yield* this.next(lexeme);
        if (!incomplete)
            yield* this.end();
    }
    /**
     * Advance the parser by the `source` of one lexical token.
     */
    *next(source) {
        this.source = source;
        if (node_process.env.LOG_TOKENS)
            console.log('|', cst.prettyToken(source));
        if (this.atScalar) {
            this.atScalar = false;
            yield* this.step();
            this.offset += source.length;
            return;
        }
        const type = cst.tokenType(source);
        if (!type) {
            const message = `Not a YAML token: ${source}`;
            yield* this.pop({ type: 'error', offset: this.offset, message, source });
            this.offset += source.length;
        }
        else if (type === 'scalar') {
            this.atNewLine = false;
            this.atScalar = true;
            this.type = 'scalar';
        }
        else {
            this.type = type;
            yield* this.step();
            switch (type) {
                case 'newline':
                    this.atNewLine = true;
                    this.indent = 0;
                    if (this.onNewLine)
                        this.onNewLine(this.offset + source.length);
                    break;
                case 'space':
                    if (this.atNewLine && source[0] === ' ')
                        this.indent += source.length;
                    break;
                case 'explicit-key-ind':
                case 'map-value-ind':
                case 'seq-item-ind':
                    if (this.atNewLine)
                        this.indent += source.length;
                    break;
                case 'doc-mode':
                case 'flow-error-end':
                    return;
                default:
                    this.atNewLine = false;
            }
            this.offset += source.length;
        }
    }
    /** Call at end of input to push out any remaining constructions */
    *end() {
        while (this.stack.length > 0)
            yield* this.pop();
    }
    get sourceToken() {
        const st = {
            type: this.type,
            offset: this.offset,
            indent: this.indent,
            source: this.source
        };
        return st;
    }
    *step() {
        const top = this.peek(1);
        if (this.type === 'doc-end' && top?.type !== 'doc-end') {
            while (this.stack.length > 0)
                yield* this.pop();
            this.stack.push({
                type: 'doc-end',
                offset: this.offset,
                source: this.source
            });
            return;
        }
        if (!top)
            return yield* this.stream();
        switch (top.type) {
            case 'document':
                return yield* this.document(top);
            case 'alias':
            case 'scalar':
            case 'single-quoted-scalar':
            case 'double-quoted-scalar':
                return yield* this.scalar(top);
            case 'block-scalar':
                return yield* this.blockScalar(top);
            case 'block-map':
                return yield* this.blockMap(top);
            case 'block-seq':
                return yield* this.blockSequence(top);
            case 'flow-collection':
                return yield* this.flowCollection(top);
            case 'doc-end':
                return yield* this.documentEnd(top);
        }
        /* istanbul ignore next should not happen */
        yield* this.pop();
    }
    peek(n) {
        return this.stack[this.stack.length - n];
    }
    *pop(error) {
        const token = error ?? this.stack.pop();
        /* istanbul ignore if should not happen */
        if (!token) {
            const message = 'Tried to pop an empty stack';
            yield { type: 'error', offset: this.offset, source: '', message };
        }
        else if (this.stack.length === 0) {
            yield token;
        }
        else {
            const top = this.peek(1);
            if (token.type === 'block-scalar') {
                // Block scalars use their parent rather than header indent
                token.indent = 'indent' in top ? top.indent : 0;
            }
            else if (token.type === 'flow-collection' && top.type === 'document') {
                // Ignore all indent for top-level flow collections
                token.indent = 0;
            }
            if (token.type === 'flow-collection')
                fixFlowSeqItems(token);
            switch (top.type) {
                case 'document':
                    top.value = token;
                    break;
                case 'block-scalar':
                    top.props.push(token); // error
                    break;
                case 'block-map': {
                    const it = top.items[top.items.length - 1];
                    if (it.value) {
                        top.items.push({ start: [], key: token, sep: [] });
                        this.onKeyLine = true;
                        return;
                    }
                    else if (it.sep) {
                        it.value = token;
                    }
                    else {
                        Object.assign(it, { key: token, sep: [] });
                        this.onKeyLine = !it.explicitKey;
                        return;
                    }
                    break;
                }
                case 'block-seq': {
                    const it = top.items[top.items.length - 1];
                    if (it.value)
                        top.items.push({ start: [], value: token });
                    else
                        it.value = token;
                    break;
                }
                case 'flow-collection': {
                    const it = top.items[top.items.length - 1];
                    if (!it || it.value)
                        top.items.push({ start: [], key: token, sep: [] });
                    else if (it.sep)
                        it.value = token;
                    else
                        Object.assign(it, { key: token, sep: [] });
                    return;
                }
                /* istanbul ignore next should not happen */
                default:
                    yield* this.pop();
                    yield* this.pop(token);
            }
            if ((top.type === 'document' ||
                top.type === 'block-map' ||
                top.type === 'block-seq') &&
                (token.type === 'block-map' || token.type === 'block-seq')) {
                const last = token.items[token.items.length - 1];
                if (last &&
                    !last.sep &&
                    !last.value &&
                    last.start.length > 0 &&
                    findNonEmptyIndex(last.start) === -1 &&
                    (token.indent === 0 ||
                        last.start.every(st => st.type !== 'comment' || st.indent < token.indent))) {
                    if (top.type === 'document')
                        top.end = last.start;
                    else
                        top.items.push({ start: last.start });
                    token.items.splice(-1, 1);
                }
            }
        }
    }
    *stream() {
        switch (this.type) {
            case 'directive-line':
                yield { type: 'directive', offset: this.offset, source: this.source };
                return;
            case 'byte-order-mark':
            case 'space':
            case 'comment':
            case 'newline':
                yield this.sourceToken;
                return;
            case 'doc-mode':
            case 'doc-start': {
                const doc = {
                    type: 'document',
                    offset: this.offset,
                    start: []
                };
                if (this.type === 'doc-start')
                    doc.start.push(this.sourceToken);
                this.stack.push(doc);
                return;
            }
        }
        yield {
            type: 'error',
            offset: this.offset,
            message: `Unexpected ${this.type} token in YAML stream`,
            source: this.source
        };
    }
    *document(doc) {
        if (doc.value)
            return yield* this.lineEnd(doc);
        switch (this.type) {
            case 'doc-start': {
                if (findNonEmptyIndex(doc.start) !== -1) {
                    yield* this.pop();
                    yield* this.step();
                }
                else
                    doc.start.push(this.sourceToken);
                return;
            }
            case 'anchor':
            case 'tag':
            case 'space':
            case 'comment':
            case 'newline':
                doc.start.push(this.sourceToken);
                return;
        }
        const bv = this.startBlockValue(doc);
        if (bv)
            this.stack.push(bv);
        else {
            yield {
                type: 'error',
                offset: this.offset,
                message: `Unexpected ${this.type} token in YAML document`,
                source: this.source
            };
        }
    }
    *scalar(scalar) {
        if (this.type === 'map-value-ind') {
            const prev = getPrevProps(this.peek(2));
            const start = getFirstKeyStartProps(prev);
            let sep;
            if (scalar.end) {
                sep = scalar.end;
                sep.push(this.sourceToken);
                delete scalar.end;
            }
            else
                sep = [this.sourceToken];
            const map = {
                type: 'block-map',
                offset: scalar.offset,
                indent: scalar.indent,
                items: [{ start, key: scalar, sep }]
            };
            this.onKeyLine = true;
            this.stack[this.stack.length - 1] = map;
        }
        else
            yield* this.lineEnd(scalar);
    }
    *blockScalar(scalar) {
        switch (this.type) {
            case 'space':
            case 'comment':
            case 'newline':
                scalar.props.push(this.sourceToken);
                return;
            case 'scalar':
                scalar.source = this.source;
                // block-scalar source includes trailing newline
                this.atNewLine = true;
                this.indent = 0;
                if (this.onNewLine) {
                    let nl = this.source.indexOf('\n') + 1;
                    while (nl !== 0) {
                        this.onNewLine(this.offset + nl);
                        nl = this.source.indexOf('\n', nl) + 1;
                    }
                }
                yield* this.pop();
                break;
            /* istanbul ignore next should not happen */
            default:
                yield* this.pop();
                yield* this.step();
        }
    }
    *blockMap(map) {
        const it = map.items[map.items.length - 1];
        // it.sep is true-ish if pair already has key or : separator
        switch (this.type) {
            case 'newline':
                this.onKeyLine = false;
                if (it.value) {
                    const end = 'end' in it.value ? it.value.end : undefined;
                    const last = Array.isArray(end) ? end[end.length - 1] : undefined;
                    if (last?.type === 'comment')
                        end?.push(this.sourceToken);
                    else
                        map.items.push({ start: [this.sourceToken] });
                }
                else if (it.sep) {
                    it.sep.push(this.sourceToken);
                }
                else {
                    it.start.push(this.sourceToken);
                }
                return;
            case 'space':
            case 'comment':
                if (it.value) {
                    map.items.push({ start: [this.sourceToken] });
                }
                else if (it.sep) {
                    it.sep.push(this.sourceToken);
                }
                else {
                    if (this.atIndentedComment(it.start, map.indent)) {
                        const prev = map.items[map.items.length - 2];
                        const end = prev?.value?.end;
                        if (Array.isArray(end)) {
                            arrayPushArray(end, it.start);
                            end.push(this.sourceToken);
                            map.items.pop();
                            return;
                        }
                    }
                    it.start.push(this.sourceToken);
                }
                return;
        }
        if (this.indent >= map.indent) {
            const atMapIndent = !this.onKeyLine && this.indent === map.indent;
            const atNextItem = atMapIndent &&
                (it.sep || it.explicitKey) &&
                this.type !== 'seq-item-ind';
            // For empty nodes, assign newline-separated not indented empty tokens to following node
            let start = [];
            if (atNextItem && it.sep && !it.value) {
                const nl = [];
                for (let i = 0; i < it.sep.length; ++i) {
                    const st = it.sep[i];
                    switch (st.type) {
                        case 'newline':
                            nl.push(i);
                            break;
                        case 'space':
                            break;
                        case 'comment':
                            if (st.indent > map.indent)
                                nl.length = 0;
                            break;
                        default:
                            nl.length = 0;
                    }
                }
                if (nl.length >= 2)
                    start = it.sep.splice(nl[1]);
            }
            switch (this.type) {
                case 'anchor':
                case 'tag':
                    if (atNextItem || it.value) {
                        start.push(this.sourceToken);
                        map.items.push({ start });
                        this.onKeyLine = true;
                    }
                    else if (it.sep) {
                        it.sep.push(this.sourceToken);
                    }
                    else {
                        it.start.push(this.sourceToken);
                    }
                    return;
                case 'explicit-key-ind':
                    if (!it.sep && !it.explicitKey) {
                        it.start.push(this.sourceToken);
                        it.explicitKey = true;
                    }
                    else if (atNextItem || it.value) {
                        start.push(this.sourceToken);
                        map.items.push({ start, explicitKey: true });
                    }
                    else {
                        this.stack.push({
                            type: 'block-map',
                            offset: this.offset,
                            indent: this.indent,
                            items: [{ start: [this.sourceToken], explicitKey: true }]
                        });
                    }
                    this.onKeyLine = true;
                    return;
                case 'map-value-ind':
                    if (it.explicitKey) {
                        if (!it.sep) {
                            if (includesToken(it.start, 'newline')) {
                                Object.assign(it, { key: null, sep: [this.sourceToken] });
                            }
                            else {
                                const start = getFirstKeyStartProps(it.start);
                                this.stack.push({
                                    type: 'block-map',
                                    offset: this.offset,
                                    indent: this.indent,
                                    items: [{ start, key: null, sep: [this.sourceToken] }]
                                });
                            }
                        }
                        else if (it.value) {
                            map.items.push({ start: [], key: null, sep: [this.sourceToken] });
                        }
                        else if (includesToken(it.sep, 'map-value-ind')) {
                            this.stack.push({
                                type: 'block-map',
                                offset: this.offset,
                                indent: this.indent,
                                items: [{ start, key: null, sep: [this.sourceToken] }]
                            });
                        }
                        else if (isFlowToken(it.key) &&
                            !includesToken(it.sep, 'newline')) {
                            const start = getFirstKeyStartProps(it.start);
                            const key = it.key;
                            const sep = it.sep;
                            sep.push(this.sourceToken);
                            // @ts-expect-error type guard is wrong here
                            delete it.key;
                            // @ts-expect-error type guard is wrong here
                            delete it.sep;
                            this.stack.push({
                                type: 'block-map',
                                offset: this.offset,
                                indent: this.indent,
                                items: [{ start, key, sep }]
                            });
                        }
                        else if (start.length > 0) {
                            // Not actually at next item
                            it.sep = it.sep.concat(start, this.sourceToken);
                        }
                        else {
                            it.sep.push(this.sourceToken);
                        }
                    }
                    else {
                        if (!it.sep) {
                            Object.assign(it, { key: null, sep: [this.sourceToken] });
                        }
                        else if (it.value || atNextItem) {
                            map.items.push({ start, key: null, sep: [this.sourceToken] });
                        }
                        else if (includesToken(it.sep, 'map-value-ind')) {
                            this.stack.push({
                                type: 'block-map',
                                offset: this.offset,
                                indent: this.indent,
                                items: [{ start: [], key: null, sep: [this.sourceToken] }]
                            });
                        }
                        else {
                            it.sep.push(this.sourceToken);
                        }
                    }
                    this.onKeyLine = true;
                    return;
                case 'alias':
                case 'scalar':
                case 'single-quoted-scalar':
                case 'double-quoted-scalar': {
                    const fs = this.flowScalar(this.type);
                    if (atNextItem || it.value) {
                        map.items.push({ start, key: fs, sep: [] });
                        this.onKeyLine = true;
                    }
                    else if (it.sep) {
                        this.stack.push(fs);
                    }
                    else {
                        Object.assign(it, { key: fs, sep: [] });
                        this.onKeyLine = true;
                    }
                    return;
                }
                default: {
                    const bv = this.startBlockValue(map);
                    if (bv) {
                        if (bv.type === 'block-seq') {
                            if (!it.explicitKey &&
                                it.sep &&
                                !includesToken(it.sep, 'newline')) {
                                yield* this.pop({
                                    type: 'error',
                                    offset: this.offset,
                                    message: 'Unexpected block-seq-ind on same line with key',
                                    source: this.source
                                });
                                return;
                            }
                        }
                        else if (atMapIndent) {
                            map.items.push({ start });
                        }
                        this.stack.push(bv);
                        return;
                    }
                }
            }
        }
        yield* this.pop();
        yield* this.step();
    }
    *blockSequence(seq) {
        const it = seq.items[seq.items.length - 1];
        switch (this.type) {
            case 'newline':
                if (it.value) {
                    const end = 'end' in it.value ? it.value.end : undefined;
                    const last = Array.isArray(end) ? end[end.length - 1] : undefined;
                    if (last?.type === 'comment')
                        end?.push(this.sourceToken);
                    else
                        seq.items.push({ start: [this.sourceToken] });
                }
                else
                    it.start.push(this.sourceToken);
                return;
            case 'space':
            case 'comment':
                if (it.value)
                    seq.items.push({ start: [this.sourceToken] });
                else {
                    if (this.atIndentedComment(it.start, seq.indent)) {
                        const prev = seq.items[seq.items.length - 2];
                        const end = prev?.value?.end;
                        if (Array.isArray(end)) {
                            arrayPushArray(end, it.start);
                            end.push(this.sourceToken);
                            seq.items.pop();
                            return;
                        }
                    }
                    it.start.push(this.sourceToken);
                }
                return;
            case 'anchor':
            case 'tag':
                if (it.value || this.indent <= seq.indent)
                    break;
                it.start.push(this.sourceToken);
                return;
            case 'seq-item-ind':
                if (this.indent !== seq.indent)
                    break;
                if (it.value || includesToken(it.start, 'seq-item-ind'))
                    seq.items.push({ start: [this.sourceToken] });
                else
                    it.start.push(this.sourceToken);
                return;
        }
        if (this.indent > seq.indent) {
            const bv = this.startBlockValue(seq);
            if (bv) {
                this.stack.push(bv);
                return;
            }
        }
        yield* this.pop();
        yield* this.step();
    }
    *flowCollection(fc) {
        const it = fc.items[fc.items.length - 1];
        if (this.type === 'flow-error-end') {
            let top;
            do {
                yield* this.pop();
                top = this.peek(1);
            } while (top?.type === 'flow-collection');
        }
        else if (fc.end.length === 0) {
            switch (this.type) {
                case 'comma':
                case 'explicit-key-ind':
                    if (!it || it.sep)
                        fc.items.push({ start: [this.sourceToken] });
                    else
                        it.start.push(this.sourceToken);
                    return;
                case 'map-value-ind':
                    if (!it || it.value)
                        fc.items.push({ start: [], key: null, sep: [this.sourceToken] });
                    else if (it.sep)
                        it.sep.push(this.sourceToken);
                    else
                        Object.assign(it, { key: null, sep: [this.sourceToken] });
                    return;
                case 'space':
                case 'comment':
                case 'newline':
                case 'anchor':
                case 'tag':
                    if (!it || it.value)
                        fc.items.push({ start: [this.sourceToken] });
                    else if (it.sep)
                        it.sep.push(this.sourceToken);
                    else
                        it.start.push(this.sourceToken);
                    return;
                case 'alias':
                case 'scalar':
                case 'single-quoted-scalar':
                case 'double-quoted-scalar': {
                    const fs = this.flowScalar(this.type);
                    if (!it || it.value)
                        fc.items.push({ start: [], key: fs, sep: [] });
                    else if (it.sep)
                        this.stack.push(fs);
                    else
                        Object.assign(it, { key: fs, sep: [] });
                    return;
                }
                case 'flow-map-end':
                case 'flow-seq-end':
                    fc.end.push(this.sourceToken);
                    return;
            }
            const bv = this.startBlockValue(fc);
            /* istanbul ignore else should not happen */
            if (bv)
                this.stack.push(bv);
            else {
                yield* this.pop();
                yield* this.step();
            }
        }
        else {
            const parent = this.peek(2);
            if (parent.type === 'block-map' &&
                ((this.type === 'map-value-ind' && parent.indent === fc.indent) ||
                    (this.type === 'newline' &&
                        !parent.items[parent.items.length - 1].sep))) {
                yield* this.pop();
                yield* this.step();
            }
            else if (this.type === 'map-value-ind' &&
                parent.type !== 'flow-collection') {
                const prev = getPrevProps(parent);
                const start = getFirstKeyStartProps(prev);
                fixFlowSeqItems(fc);
                const sep = fc.end.splice(1, fc.end.length);
                sep.push(this.sourceToken);
                const map = {
                    type: 'block-map',
                    offset: fc.offset,
                    indent: fc.indent,
                    items: [{ start, key: fc, sep }]
                };
                this.onKeyLine = true;
                this.stack[this.stack.length - 1] = map;
            }
            else {
                yield* this.lineEnd(fc);
            }
        }
    }
    flowScalar(type) {
        if (this.onNewLine) {
            let nl = this.source.indexOf('\n') + 1;
            while (nl !== 0) {
                this.onNewLine(this.offset + nl);
                nl = this.source.indexOf('\n', nl) + 1;
            }
        }
        return {
            type,
            offset: this.offset,
            indent: this.indent,
            source: this.source
        };
    }
    startBlockValue(parent) {
        switch (this.type) {
            case 'alias':
            case 'scalar':
            case 'single-quoted-scalar':
            case 'double-quoted-scalar':
                return this.flowScalar(this.type);
            case 'block-scalar-header':
                return {
                    type: 'block-scalar',
                    offset: this.offset,
                    indent: this.indent,
                    props: [this.sourceToken],
                    source: ''
                };
            case 'flow-map-start':
            case 'flow-seq-start':
                return {
                    type: 'flow-collection',
                    offset: this.offset,
                    indent: this.indent,
                    start: this.sourceToken,
                    items: [],
                    end: []
                };
            case 'seq-item-ind':
                return {
                    type: 'block-seq',
                    offset: this.offset,
                    indent: this.indent,
                    items: [{ start: [this.sourceToken] }]
                };
            case 'explicit-key-ind': {
                this.onKeyLine = true;
                const prev = getPrevProps(parent);
                const start = getFirstKeyStartProps(prev);
                start.push(this.sourceToken);
                return {
                    type: 'block-map',
                    offset: this.offset,
                    indent: this.indent,
                    items: [{ start, explicitKey: true }]
                };
            }
            case 'map-value-ind': {
                this.onKeyLine = true;
                const prev = getPrevProps(parent);
                const start = getFirstKeyStartProps(prev);
                return {
                    type: 'block-map',
                    offset: this.offset,
                    indent: this.indent,
                    items: [{ start, key: null, sep: [this.sourceToken] }]
                };
            }
        }
        return null;
    }
    atIndentedComment(start, indent) {
        if (this.type !== 'comment')
            return false;
        if (this.indent <= indent)
            return false;
        return start.every(st => st.type === 'newline' || st.type === 'space');
    }
    *documentEnd(docEnd) {
        if (this.type !== 'doc-mode') {
            if (docEnd.end)
                docEnd.end.push(this.sourceToken);
            else
                docEnd.end = [this.sourceToken];
            if (this.type === 'newline')
                yield* this.pop();
        }
    }
    *lineEnd(token) {
        switch (this.type) {
            case 'comma':
            case 'doc-start':
            case 'doc-end':
            case 'flow-seq-end':
            case 'flow-map-end':
            case 'map-value-ind':
                yield* this.pop();
                yield* this.step();
                break;
            case 'newline':
                this.onKeyLine = false;
            // fallthrough
            case 'space':
            case 'comment':
            default:
                // all other values are errors
                if (token.end)
                    token.end.push(this.sourceToken);
                else
                    token.end = [this.sourceToken];
                if (this.type === 'newline')
                    yield* this.pop();
        }
    }
}

exports.Parser = Parser;


/***/ }),

/***/ 4563:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var composer = __nccwpck_require__(4260);
var Document = __nccwpck_require__(7977);
var errors = __nccwpck_require__(7460);
var log = __nccwpck_require__(6669);
var identity = __nccwpck_require__(1891);
var lineCounter = __nccwpck_require__(2808);
var parser = __nccwpck_require__(3124);

function parseOptions(options) {
    const prettyErrors = options.prettyErrors !== false;
    const lineCounter$1 = options.lineCounter || (prettyErrors && new lineCounter.LineCounter()) || null;
    return { lineCounter: lineCounter$1, prettyErrors };
}
/**
 * Parse the input as a stream of YAML documents.
 *
 * Documents should be separated from each other by `...` or `---` marker lines.
 *
 * @returns If an empty `docs` array is returned, it will be of type
 *   EmptyStream and contain additional stream information. In
 *   TypeScript, you should use `'empty' in docs` as a type guard for it.
 */
function parseAllDocuments(source, options = {}) {
    const { lineCounter, prettyErrors } = parseOptions(options);
    const parser$1 = new parser.Parser(lineCounter?.addNewLine);
    const composer$1 = new composer.Composer(options);
    const docs = Array.from(composer$1.compose(parser$1.parse(source)));
    if (prettyErrors && lineCounter)
        for (const doc of docs) {
            doc.errors.forEach(errors.prettifyError(source, lineCounter));
            doc.warnings.forEach(errors.prettifyError(source, lineCounter));
        }
    if (docs.length > 0)
        return docs;
    return Object.assign([], { empty: true }, composer$1.streamInfo());
}
/** Parse an input string into a single YAML.Document */
function parseDocument(source, options = {}) {
    const { lineCounter, prettyErrors } = parseOptions(options);
    const parser$1 = new parser.Parser(lineCounter?.addNewLine);
    const composer$1 = new composer.Composer(options);
    // `doc` is always set by compose.end(true) at the very latest
    let doc = null;
    for (const _doc of composer$1.compose(parser$1.parse(source), true, source.length)) {
        if (!doc)
            doc = _doc;
        else if (doc.options.logLevel !== 'silent') {
            doc.errors.push(new errors.YAMLParseError(_doc.range.slice(0, 2), 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
            break;
        }
    }
    if (prettyErrors && lineCounter) {
        doc.errors.forEach(errors.prettifyError(source, lineCounter));
        doc.warnings.forEach(errors.prettifyError(source, lineCounter));
    }
    return doc;
}
function parse(src, reviver, options) {
    let _reviver = undefined;
    if (typeof reviver === 'function') {
        _reviver = reviver;
    }
    else if (options === undefined && reviver && typeof reviver === 'object') {
        options = reviver;
    }
    const doc = parseDocument(src, options);
    if (!doc)
        return null;
    doc.warnings.forEach(warning => log.warn(doc.options.logLevel, warning));
    if (doc.errors.length > 0) {
        if (doc.options.logLevel !== 'silent')
            throw doc.errors[0];
        else
            doc.errors = [];
    }
    return doc.toJS(Object.assign({ reviver: _reviver }, options));
}
function stringify(value, replacer, options) {
    let _replacer = null;
    if (typeof replacer === 'function' || Array.isArray(replacer)) {
        _replacer = replacer;
    }
    else if (options === undefined && replacer) {
        options = replacer;
    }
    if (typeof options === 'string')
        options = options.length;
    if (typeof options === 'number') {
        const indent = Math.round(options);
        options = indent < 1 ? undefined : indent > 8 ? { indent: 8 } : { indent };
    }
    if (value === undefined) {
        const { keepUndefined } = options ?? replacer ?? {};
        if (!keepUndefined)
            return undefined;
    }
    if (identity.isDocument(value) && !_replacer)
        return value.toString(options);
    return new Document.Document(value, _replacer, options).toString(options);
}

exports.parse = parse;
exports.parseAllDocuments = parseAllDocuments;
exports.parseDocument = parseDocument;
exports.stringify = stringify;


/***/ }),

/***/ 1148:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var map = __nccwpck_require__(1231);
var seq = __nccwpck_require__(814);
var string = __nccwpck_require__(3724);
var tags = __nccwpck_require__(8478);

const sortMapEntriesByKey = (a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
class Schema {
    constructor({ compat, customTags, merge, resolveKnownTags, schema, sortMapEntries, toStringDefaults }) {
        this.compat = Array.isArray(compat)
            ? tags.getTags(compat, 'compat')
            : compat
                ? tags.getTags(null, compat)
                : null;
        this.name = (typeof schema === 'string' && schema) || 'core';
        this.knownTags = resolveKnownTags ? tags.coreKnownTags : {};
        this.tags = tags.getTags(customTags, this.name, merge);
        this.toStringOptions = toStringDefaults ?? null;
        Object.defineProperty(this, identity.MAP, { value: map.map });
        Object.defineProperty(this, identity.SCALAR, { value: string.string });
        Object.defineProperty(this, identity.SEQ, { value: seq.seq });
        // Used by createMap()
        this.sortMapEntries =
            typeof sortMapEntries === 'function'
                ? sortMapEntries
                : sortMapEntries === true
                    ? sortMapEntriesByKey
                    : null;
    }
    clone() {
        const copy = Object.create(Schema.prototype, Object.getOwnPropertyDescriptors(this));
        copy.tags = this.tags.slice();
        return copy;
    }
}

exports.Schema = Schema;


/***/ }),

/***/ 1231:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var YAMLMap = __nccwpck_require__(2938);

const map = {
    collection: 'map',
    default: true,
    nodeClass: YAMLMap.YAMLMap,
    tag: 'tag:yaml.org,2002:map',
    resolve(map, onError) {
        if (!identity.isMap(map))
            onError('Expected a mapping for this tag');
        return map;
    },
    createNode: (schema, obj, ctx) => YAMLMap.YAMLMap.from(schema, obj, ctx)
};

exports.map = map;


/***/ }),

/***/ 5940:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);

const nullTag = {
    identify: value => value == null,
    createNode: () => new Scalar.Scalar(null),
    default: true,
    tag: 'tag:yaml.org,2002:null',
    test: /^(?:~|[Nn]ull|NULL)?$/,
    resolve: () => new Scalar.Scalar(null),
    stringify: ({ source }, ctx) => typeof source === 'string' && nullTag.test.test(source)
        ? source
        : ctx.options.nullStr
};

exports.nullTag = nullTag;


/***/ }),

/***/ 814:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var YAMLSeq = __nccwpck_require__(3571);

const seq = {
    collection: 'seq',
    default: true,
    nodeClass: YAMLSeq.YAMLSeq,
    tag: 'tag:yaml.org,2002:seq',
    resolve(seq, onError) {
        if (!identity.isSeq(seq))
            onError('Expected a sequence for this tag');
        return seq;
    },
    createNode: (schema, obj, ctx) => YAMLSeq.YAMLSeq.from(schema, obj, ctx)
};

exports.seq = seq;


/***/ }),

/***/ 3724:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var stringifyString = __nccwpck_require__(3665);

const string = {
    identify: value => typeof value === 'string',
    default: true,
    tag: 'tag:yaml.org,2002:str',
    resolve: str => str,
    stringify(item, ctx, onComment, onChompKeep) {
        ctx = Object.assign({ actualString: true }, ctx);
        return stringifyString.stringifyString(item, ctx, onComment, onChompKeep);
    }
};

exports.string = string;


/***/ }),

/***/ 5579:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);

const boolTag = {
    identify: value => typeof value === 'boolean',
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/,
    resolve: str => new Scalar.Scalar(str[0] === 't' || str[0] === 'T'),
    stringify({ source, value }, ctx) {
        if (source && boolTag.test.test(source)) {
            const sv = source[0] === 't' || source[0] === 'T';
            if (value === sv)
                return source;
        }
        return value ? ctx.options.trueStr : ctx.options.falseStr;
    }
};

exports.boolTag = boolTag;


/***/ }),

/***/ 1433:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);
var stringifyNumber = __nccwpck_require__(3677);

const floatNaN = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
    resolve: str => str.slice(-3).toLowerCase() === 'nan'
        ? NaN
        : str[0] === '-'
            ? Number.NEGATIVE_INFINITY
            : Number.POSITIVE_INFINITY,
    stringify: stringifyNumber.stringifyNumber
};
const floatExp = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    format: 'EXP',
    test: /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
    resolve: str => parseFloat(str),
    stringify(node) {
        const num = Number(node.value);
        return isFinite(num) ? num.toExponential() : stringifyNumber.stringifyNumber(node);
    }
};
const float = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
    resolve(str) {
        const node = new Scalar.Scalar(parseFloat(str));
        const dot = str.indexOf('.');
        if (dot !== -1 && str[str.length - 1] === '0')
            node.minFractionDigits = str.length - dot - 1;
        return node;
    },
    stringify: stringifyNumber.stringifyNumber
};

exports.float = float;
exports.floatExp = floatExp;
exports.floatNaN = floatNaN;


/***/ }),

/***/ 2790:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var stringifyNumber = __nccwpck_require__(3677);

const intIdentify = (value) => typeof value === 'bigint' || Number.isInteger(value);
const intResolve = (str, offset, radix, { intAsBigInt }) => (intAsBigInt ? BigInt(str) : parseInt(str.substring(offset), radix));
function intStringify(node, radix, prefix) {
    const { value } = node;
    if (intIdentify(value) && value >= 0)
        return prefix + value.toString(radix);
    return stringifyNumber.stringifyNumber(node);
}
const intOct = {
    identify: value => intIdentify(value) && value >= 0,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'OCT',
    test: /^0o[0-7]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 2, 8, opt),
    stringify: node => intStringify(node, 8, '0o')
};
const int = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    test: /^[-+]?[0-9]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 0, 10, opt),
    stringify: stringifyNumber.stringifyNumber
};
const intHex = {
    identify: value => intIdentify(value) && value >= 0,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'HEX',
    test: /^0x[0-9a-fA-F]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 2, 16, opt),
    stringify: node => intStringify(node, 16, '0x')
};

exports.int = int;
exports.intHex = intHex;
exports.intOct = intOct;


/***/ }),

/***/ 9772:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var map = __nccwpck_require__(1231);
var _null = __nccwpck_require__(5940);
var seq = __nccwpck_require__(814);
var string = __nccwpck_require__(3724);
var bool = __nccwpck_require__(5579);
var float = __nccwpck_require__(1433);
var int = __nccwpck_require__(2790);

const schema = [
    map.map,
    seq.seq,
    string.string,
    _null.nullTag,
    bool.boolTag,
    int.intOct,
    int.int,
    int.intHex,
    float.floatNaN,
    float.floatExp,
    float.float
];

exports.schema = schema;


/***/ }),

/***/ 7331:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);
var map = __nccwpck_require__(1231);
var seq = __nccwpck_require__(814);

function intIdentify(value) {
    return typeof value === 'bigint' || Number.isInteger(value);
}
const stringifyJSON = ({ value }) => JSON.stringify(value);
const jsonScalars = [
    {
        identify: value => typeof value === 'string',
        default: true,
        tag: 'tag:yaml.org,2002:str',
        resolve: str => str,
        stringify: stringifyJSON
    },
    {
        identify: value => value == null,
        createNode: () => new Scalar.Scalar(null),
        default: true,
        tag: 'tag:yaml.org,2002:null',
        test: /^null$/,
        resolve: () => null,
        stringify: stringifyJSON
    },
    {
        identify: value => typeof value === 'boolean',
        default: true,
        tag: 'tag:yaml.org,2002:bool',
        test: /^true$|^false$/,
        resolve: str => str === 'true',
        stringify: stringifyJSON
    },
    {
        identify: intIdentify,
        default: true,
        tag: 'tag:yaml.org,2002:int',
        test: /^-?(?:0|[1-9][0-9]*)$/,
        resolve: (str, _onError, { intAsBigInt }) => intAsBigInt ? BigInt(str) : parseInt(str, 10),
        stringify: ({ value }) => intIdentify(value) ? value.toString() : JSON.stringify(value)
    },
    {
        identify: value => typeof value === 'number',
        default: true,
        tag: 'tag:yaml.org,2002:float',
        test: /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?$/,
        resolve: str => parseFloat(str),
        stringify: stringifyJSON
    }
];
const jsonError = {
    default: true,
    tag: '',
    test: /^/,
    resolve(str, onError) {
        onError(`Unresolved plain scalar ${JSON.stringify(str)}`);
        return str;
    }
};
const schema = [map.map, seq.seq].concat(jsonScalars, jsonError);

exports.schema = schema;


/***/ }),

/***/ 8478:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var map = __nccwpck_require__(1231);
var _null = __nccwpck_require__(5940);
var seq = __nccwpck_require__(814);
var string = __nccwpck_require__(3724);
var bool = __nccwpck_require__(5579);
var float = __nccwpck_require__(1433);
var int = __nccwpck_require__(2790);
var schema = __nccwpck_require__(9772);
var schema$1 = __nccwpck_require__(7331);
var binary = __nccwpck_require__(743);
var merge = __nccwpck_require__(4376);
var omap = __nccwpck_require__(6683);
var pairs = __nccwpck_require__(7221);
var schema$2 = __nccwpck_require__(3381);
var set = __nccwpck_require__(5340);
var timestamp = __nccwpck_require__(3932);

const schemas = new Map([
    ['core', schema.schema],
    ['failsafe', [map.map, seq.seq, string.string]],
    ['json', schema$1.schema],
    ['yaml11', schema$2.schema],
    ['yaml-1.1', schema$2.schema]
]);
const tagsByName = {
    binary: binary.binary,
    bool: bool.boolTag,
    float: float.float,
    floatExp: float.floatExp,
    floatNaN: float.floatNaN,
    floatTime: timestamp.floatTime,
    int: int.int,
    intHex: int.intHex,
    intOct: int.intOct,
    intTime: timestamp.intTime,
    map: map.map,
    merge: merge.merge,
    null: _null.nullTag,
    omap: omap.omap,
    pairs: pairs.pairs,
    seq: seq.seq,
    set: set.set,
    timestamp: timestamp.timestamp
};
const coreKnownTags = {
    'tag:yaml.org,2002:binary': binary.binary,
    'tag:yaml.org,2002:merge': merge.merge,
    'tag:yaml.org,2002:omap': omap.omap,
    'tag:yaml.org,2002:pairs': pairs.pairs,
    'tag:yaml.org,2002:set': set.set,
    'tag:yaml.org,2002:timestamp': timestamp.timestamp
};
function getTags(customTags, schemaName, addMergeTag) {
    const schemaTags = schemas.get(schemaName);
    if (schemaTags && !customTags) {
        return addMergeTag && !schemaTags.includes(merge.merge)
            ? schemaTags.concat(merge.merge)
            : schemaTags.slice();
    }
    let tags = schemaTags;
    if (!tags) {
        if (Array.isArray(customTags))
            tags = [];
        else {
            const keys = Array.from(schemas.keys())
                .filter(key => key !== 'yaml11')
                .map(key => JSON.stringify(key))
                .join(', ');
            throw new Error(`Unknown schema "${schemaName}"; use one of ${keys} or define customTags array`);
        }
    }
    if (Array.isArray(customTags)) {
        for (const tag of customTags)
            tags = tags.concat(tag);
    }
    else if (typeof customTags === 'function') {
        tags = customTags(tags.slice());
    }
    if (addMergeTag)
        tags = tags.concat(merge.merge);
    return tags.reduce((tags, tag) => {
        const tagObj = typeof tag === 'string' ? tagsByName[tag] : tag;
        if (!tagObj) {
            const tagName = JSON.stringify(tag);
            const keys = Object.keys(tagsByName)
                .map(key => JSON.stringify(key))
                .join(', ');
            throw new Error(`Unknown custom tag ${tagName}; use one of ${keys}`);
        }
        if (!tags.includes(tagObj))
            tags.push(tagObj);
        return tags;
    }, []);
}

exports.coreKnownTags = coreKnownTags;
exports.getTags = getTags;


/***/ }),

/***/ 743:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var node_buffer = __nccwpck_require__(181);
var Scalar = __nccwpck_require__(4305);
var stringifyString = __nccwpck_require__(3665);

const binary = {
    identify: value => value instanceof Uint8Array, // Buffer inherits from Uint8Array
    default: false,
    tag: 'tag:yaml.org,2002:binary',
    /**
     * Returns a Buffer in node and an Uint8Array in browsers
     *
     * To use the resulting buffer as an image, you'll want to do something like:
     *
     *   const blob = new Blob([buffer], { type: 'image/jpeg' })
     *   document.querySelector('#photo').src = URL.createObjectURL(blob)
     */
    resolve(src, onError) {
        if (typeof node_buffer.Buffer === 'function') {
            return node_buffer.Buffer.from(src, 'base64');
        }
        else if (typeof atob === 'function') {
            // On IE 11, atob() can't handle newlines
            const str = atob(src.replace(/[\n\r]/g, ''));
            const buffer = new Uint8Array(str.length);
            for (let i = 0; i < str.length; ++i)
                buffer[i] = str.charCodeAt(i);
            return buffer;
        }
        else {
            onError('This environment does not support reading binary tags; either Buffer or atob is required');
            return src;
        }
    },
    stringify({ comment, type, value }, ctx, onComment, onChompKeep) {
        if (!value)
            return '';
        const buf = value; // checked earlier by binary.identify()
        let str;
        if (typeof node_buffer.Buffer === 'function') {
            str =
                buf instanceof node_buffer.Buffer
                    ? buf.toString('base64')
                    : node_buffer.Buffer.from(buf.buffer).toString('base64');
        }
        else if (typeof btoa === 'function') {
            let s = '';
            for (let i = 0; i < buf.length; ++i)
                s += String.fromCharCode(buf[i]);
            str = btoa(s);
        }
        else {
            throw new Error('This environment does not support writing binary tags; either Buffer or btoa is required');
        }
        type ?? (type = Scalar.Scalar.BLOCK_LITERAL);
        if (type !== Scalar.Scalar.QUOTE_DOUBLE) {
            const lineWidth = Math.max(ctx.options.lineWidth - ctx.indent.length, ctx.options.minContentWidth);
            const n = Math.ceil(str.length / lineWidth);
            const lines = new Array(n);
            for (let i = 0, o = 0; i < n; ++i, o += lineWidth) {
                lines[i] = str.substr(o, lineWidth);
            }
            str = lines.join(type === Scalar.Scalar.BLOCK_LITERAL ? '\n' : ' ');
        }
        return stringifyString.stringifyString({ comment, type, value: str }, ctx, onComment, onChompKeep);
    }
};

exports.binary = binary;


/***/ }),

/***/ 8514:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);

function boolStringify({ value, source }, ctx) {
    const boolObj = value ? trueTag : falseTag;
    if (source && boolObj.test.test(source))
        return source;
    return value ? ctx.options.trueStr : ctx.options.falseStr;
}
const trueTag = {
    identify: value => value === true,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/,
    resolve: () => new Scalar.Scalar(true),
    stringify: boolStringify
};
const falseTag = {
    identify: value => value === false,
    default: true,
    tag: 'tag:yaml.org,2002:bool',
    test: /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/,
    resolve: () => new Scalar.Scalar(false),
    stringify: boolStringify
};

exports.falseTag = falseTag;
exports.trueTag = trueTag;


/***/ }),

/***/ 2026:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);
var stringifyNumber = __nccwpck_require__(3677);

const floatNaN = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
    resolve: (str) => str.slice(-3).toLowerCase() === 'nan'
        ? NaN
        : str[0] === '-'
            ? Number.NEGATIVE_INFINITY
            : Number.POSITIVE_INFINITY,
    stringify: stringifyNumber.stringifyNumber
};
const floatExp = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    format: 'EXP',
    test: /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/,
    resolve: (str) => parseFloat(str.replace(/_/g, '')),
    stringify(node) {
        const num = Number(node.value);
        return isFinite(num) ? num.toExponential() : stringifyNumber.stringifyNumber(node);
    }
};
const float = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    test: /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/,
    resolve(str) {
        const node = new Scalar.Scalar(parseFloat(str.replace(/_/g, '')));
        const dot = str.indexOf('.');
        if (dot !== -1) {
            const f = str.substring(dot + 1).replace(/_/g, '');
            if (f[f.length - 1] === '0')
                node.minFractionDigits = f.length;
        }
        return node;
    },
    stringify: stringifyNumber.stringifyNumber
};

exports.float = float;
exports.floatExp = floatExp;
exports.floatNaN = floatNaN;


/***/ }),

/***/ 7149:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var stringifyNumber = __nccwpck_require__(3677);

const intIdentify = (value) => typeof value === 'bigint' || Number.isInteger(value);
function intResolve(str, offset, radix, { intAsBigInt }) {
    const sign = str[0];
    if (sign === '-' || sign === '+')
        offset += 1;
    str = str.substring(offset).replace(/_/g, '');
    if (intAsBigInt) {
        switch (radix) {
            case 2:
                str = `0b${str}`;
                break;
            case 8:
                str = `0o${str}`;
                break;
            case 16:
                str = `0x${str}`;
                break;
        }
        const n = BigInt(str);
        return sign === '-' ? BigInt(-1) * n : n;
    }
    const n = parseInt(str, radix);
    return sign === '-' ? -1 * n : n;
}
function intStringify(node, radix, prefix) {
    const { value } = node;
    if (intIdentify(value)) {
        const str = value.toString(radix);
        return value < 0 ? '-' + prefix + str.substr(1) : prefix + str;
    }
    return stringifyNumber.stringifyNumber(node);
}
const intBin = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'BIN',
    test: /^[-+]?0b[0-1_]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 2, 2, opt),
    stringify: node => intStringify(node, 2, '0b')
};
const intOct = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'OCT',
    test: /^[-+]?0[0-7_]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 1, 8, opt),
    stringify: node => intStringify(node, 8, '0')
};
const int = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    test: /^[-+]?[0-9][0-9_]*$/,
    resolve: (str, _onError, opt) => intResolve(str, 0, 10, opt),
    stringify: stringifyNumber.stringifyNumber
};
const intHex = {
    identify: intIdentify,
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'HEX',
    test: /^[-+]?0x[0-9a-fA-F_]+$/,
    resolve: (str, _onError, opt) => intResolve(str, 2, 16, opt),
    stringify: node => intStringify(node, 16, '0x')
};

exports.int = int;
exports.intBin = intBin;
exports.intHex = intHex;
exports.intOct = intOct;


/***/ }),

/***/ 4376:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Scalar = __nccwpck_require__(4305);

// If the value associated with a merge key is a single mapping node, each of
// its key/value pairs is inserted into the current mapping, unless the key
// already exists in it. If the value associated with the merge key is a
// sequence, then this sequence is expected to contain mapping nodes and each
// of these nodes is merged in turn according to its order in the sequence.
// Keys in mapping nodes earlier in the sequence override keys specified in
// later mapping nodes. -- http://yaml.org/type/merge.html
const MERGE_KEY = '<<';
const merge = {
    identify: value => value === MERGE_KEY ||
        (typeof value === 'symbol' && value.description === MERGE_KEY),
    default: 'key',
    tag: 'tag:yaml.org,2002:merge',
    test: /^<<$/,
    resolve: () => Object.assign(new Scalar.Scalar(Symbol(MERGE_KEY)), {
        addToJSMap: addMergeToJSMap
    }),
    stringify: () => MERGE_KEY
};
const isMergeKey = (ctx, key) => (merge.identify(key) ||
    (identity.isScalar(key) &&
        (!key.type || key.type === Scalar.Scalar.PLAIN) &&
        merge.identify(key.value))) &&
    ctx?.doc.schema.tags.some(tag => tag.tag === merge.tag && tag.default);
function addMergeToJSMap(ctx, map, value) {
    const source = resolveAliasValue(ctx, value);
    if (identity.isSeq(source))
        for (const it of source.items)
            mergeValue(ctx, map, it);
    else if (Array.isArray(source))
        for (const it of source)
            mergeValue(ctx, map, it);
    else
        mergeValue(ctx, map, source);
}
function mergeValue(ctx, map, value) {
    const source = resolveAliasValue(ctx, value);
    if (!identity.isMap(source))
        throw new Error('Merge sources must be maps or map aliases');
    const srcMap = source.toJSON(null, ctx, Map);
    for (const [key, value] of srcMap) {
        if (map instanceof Map) {
            if (!map.has(key))
                map.set(key, value);
        }
        else if (map instanceof Set) {
            map.add(key);
        }
        else if (!Object.prototype.hasOwnProperty.call(map, key)) {
            Object.defineProperty(map, key, {
                value,
                writable: true,
                enumerable: true,
                configurable: true
            });
        }
    }
    return map;
}
function resolveAliasValue(ctx, value) {
    return ctx && identity.isAlias(value) ? value.resolve(ctx.doc, ctx) : value;
}

exports.addMergeToJSMap = addMergeToJSMap;
exports.isMergeKey = isMergeKey;
exports.merge = merge;


/***/ }),

/***/ 6683:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var toJS = __nccwpck_require__(3119);
var YAMLMap = __nccwpck_require__(2938);
var YAMLSeq = __nccwpck_require__(3571);
var pairs = __nccwpck_require__(7221);

class YAMLOMap extends YAMLSeq.YAMLSeq {
    constructor() {
        super();
        this.add = YAMLMap.YAMLMap.prototype.add.bind(this);
        this.delete = YAMLMap.YAMLMap.prototype.delete.bind(this);
        this.get = YAMLMap.YAMLMap.prototype.get.bind(this);
        this.has = YAMLMap.YAMLMap.prototype.has.bind(this);
        this.set = YAMLMap.YAMLMap.prototype.set.bind(this);
        this.tag = YAMLOMap.tag;
    }
    /**
     * If `ctx` is given, the return type is actually `Map<unknown, unknown>`,
     * but TypeScript won't allow widening the signature of a child method.
     */
    toJSON(_, ctx) {
        if (!ctx)
            return super.toJSON(_);
        const map = new Map();
        if (ctx?.onCreate)
            ctx.onCreate(map);
        for (const pair of this.items) {
            let key, value;
            if (identity.isPair(pair)) {
                key = toJS.toJS(pair.key, '', ctx);
                value = toJS.toJS(pair.value, key, ctx);
            }
            else {
                key = toJS.toJS(pair, '', ctx);
            }
            if (map.has(key))
                throw new Error('Ordered maps must not include duplicate keys');
            map.set(key, value);
        }
        return map;
    }
    static from(schema, iterable, ctx) {
        const pairs$1 = pairs.createPairs(schema, iterable, ctx);
        const omap = new this();
        omap.items = pairs$1.items;
        return omap;
    }
}
YAMLOMap.tag = 'tag:yaml.org,2002:omap';
const omap = {
    collection: 'seq',
    identify: value => value instanceof Map,
    nodeClass: YAMLOMap,
    default: false,
    tag: 'tag:yaml.org,2002:omap',
    resolve(seq, onError) {
        const pairs$1 = pairs.resolvePairs(seq, onError);
        const seenKeys = [];
        for (const { key } of pairs$1.items) {
            if (identity.isScalar(key)) {
                if (seenKeys.includes(key.value)) {
                    onError(`Ordered maps must not include duplicate keys: ${key.value}`);
                }
                else {
                    seenKeys.push(key.value);
                }
            }
        }
        return Object.assign(new YAMLOMap(), pairs$1);
    },
    createNode: (schema, iterable, ctx) => YAMLOMap.from(schema, iterable, ctx)
};

exports.YAMLOMap = YAMLOMap;
exports.omap = omap;


/***/ }),

/***/ 7221:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Pair = __nccwpck_require__(5153);
var Scalar = __nccwpck_require__(4305);
var YAMLSeq = __nccwpck_require__(3571);

function resolvePairs(seq, onError) {
    if (identity.isSeq(seq)) {
        for (let i = 0; i < seq.items.length; ++i) {
            let item = seq.items[i];
            if (identity.isPair(item))
                continue;
            else if (identity.isMap(item)) {
                if (item.items.length > 1)
                    onError('Each pair must have its own sequence indicator');
                const pair = item.items[0] || new Pair.Pair(new Scalar.Scalar(null));
                if (item.commentBefore)
                    pair.key.commentBefore = pair.key.commentBefore
                        ? `${item.commentBefore}\n${pair.key.commentBefore}`
                        : item.commentBefore;
                if (item.comment) {
                    const cn = pair.value ?? pair.key;
                    cn.comment = cn.comment
                        ? `${item.comment}\n${cn.comment}`
                        : item.comment;
                }
                item = pair;
            }
            seq.items[i] = identity.isPair(item) ? item : new Pair.Pair(item);
        }
    }
    else
        onError('Expected a sequence for this tag');
    return seq;
}
function createPairs(schema, iterable, ctx) {
    const { replacer } = ctx;
    const pairs = new YAMLSeq.YAMLSeq(schema);
    pairs.tag = 'tag:yaml.org,2002:pairs';
    let i = 0;
    if (iterable && Symbol.iterator in Object(iterable))
        for (let it of iterable) {
            if (typeof replacer === 'function')
                it = replacer.call(iterable, String(i++), it);
            let key, value;
            if (Array.isArray(it)) {
                if (it.length === 2) {
                    key = it[0];
                    value = it[1];
                }
                else
                    throw new TypeError(`Expected [key, value] tuple: ${it}`);
            }
            else if (it && it instanceof Object) {
                const keys = Object.keys(it);
                if (keys.length === 1) {
                    key = keys[0];
                    value = it[key];
                }
                else {
                    throw new TypeError(`Expected tuple with one key, not ${keys.length} keys`);
                }
            }
            else {
                key = it;
            }
            pairs.items.push(Pair.createPair(key, value, ctx));
        }
    return pairs;
}
const pairs = {
    collection: 'seq',
    default: false,
    tag: 'tag:yaml.org,2002:pairs',
    resolve: resolvePairs,
    createNode: createPairs
};

exports.createPairs = createPairs;
exports.pairs = pairs;
exports.resolvePairs = resolvePairs;


/***/ }),

/***/ 3381:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var map = __nccwpck_require__(1231);
var _null = __nccwpck_require__(5940);
var seq = __nccwpck_require__(814);
var string = __nccwpck_require__(3724);
var binary = __nccwpck_require__(743);
var bool = __nccwpck_require__(8514);
var float = __nccwpck_require__(2026);
var int = __nccwpck_require__(7149);
var merge = __nccwpck_require__(4376);
var omap = __nccwpck_require__(6683);
var pairs = __nccwpck_require__(7221);
var set = __nccwpck_require__(5340);
var timestamp = __nccwpck_require__(3932);

const schema = [
    map.map,
    seq.seq,
    string.string,
    _null.nullTag,
    bool.trueTag,
    bool.falseTag,
    int.intBin,
    int.intOct,
    int.int,
    int.intHex,
    float.floatNaN,
    float.floatExp,
    float.float,
    binary.binary,
    merge.merge,
    omap.omap,
    pairs.pairs,
    set.set,
    timestamp.intTime,
    timestamp.floatTime,
    timestamp.timestamp
];

exports.schema = schema;


/***/ }),

/***/ 5340:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Pair = __nccwpck_require__(5153);
var YAMLMap = __nccwpck_require__(2938);

class YAMLSet extends YAMLMap.YAMLMap {
    constructor(schema) {
        super(schema);
        this.tag = YAMLSet.tag;
    }
    add(key) {
        let pair;
        if (identity.isPair(key))
            pair = key;
        else if (key &&
            typeof key === 'object' &&
            'key' in key &&
            'value' in key &&
            key.value === null)
            pair = new Pair.Pair(key.key, null);
        else
            pair = new Pair.Pair(key, null);
        const prev = YAMLMap.findPair(this.items, pair.key);
        if (!prev)
            this.items.push(pair);
    }
    /**
     * If `keepPair` is `true`, returns the Pair matching `key`.
     * Otherwise, returns the value of that Pair's key.
     */
    get(key, keepPair) {
        const pair = YAMLMap.findPair(this.items, key);
        return !keepPair && identity.isPair(pair)
            ? identity.isScalar(pair.key)
                ? pair.key.value
                : pair.key
            : pair;
    }
    set(key, value) {
        if (typeof value !== 'boolean')
            throw new Error(`Expected boolean value for set(key, value) in a YAML set, not ${typeof value}`);
        const prev = YAMLMap.findPair(this.items, key);
        if (prev && !value) {
            this.items.splice(this.items.indexOf(prev), 1);
        }
        else if (!prev && value) {
            this.items.push(new Pair.Pair(key));
        }
    }
    toJSON(_, ctx) {
        return super.toJSON(_, ctx, Set);
    }
    toString(ctx, onComment, onChompKeep) {
        if (!ctx)
            return JSON.stringify(this);
        if (this.hasAllNullValues(true))
            return super.toString(Object.assign({}, ctx, { allNullValues: true }), onComment, onChompKeep);
        else
            throw new Error('Set items must all have null values');
    }
    static from(schema, iterable, ctx) {
        const { replacer } = ctx;
        const set = new this(schema);
        if (iterable && Symbol.iterator in Object(iterable))
            for (let value of iterable) {
                if (typeof replacer === 'function')
                    value = replacer.call(iterable, value, value);
                set.items.push(Pair.createPair(value, null, ctx));
            }
        return set;
    }
}
YAMLSet.tag = 'tag:yaml.org,2002:set';
const set = {
    collection: 'map',
    identify: value => value instanceof Set,
    nodeClass: YAMLSet,
    default: false,
    tag: 'tag:yaml.org,2002:set',
    createNode: (schema, iterable, ctx) => YAMLSet.from(schema, iterable, ctx),
    resolve(map, onError) {
        if (identity.isMap(map)) {
            if (map.hasAllNullValues(true))
                return Object.assign(new YAMLSet(), map);
            else
                onError('Set items must all have null values');
        }
        else
            onError('Expected a mapping for this tag');
        return map;
    }
};

exports.YAMLSet = YAMLSet;
exports.set = set;


/***/ }),

/***/ 3932:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var stringifyNumber = __nccwpck_require__(3677);

/** Internal types handle bigint as number, because TS can't figure it out. */
function parseSexagesimal(str, asBigInt) {
    const sign = str[0];
    const parts = sign === '-' || sign === '+' ? str.substring(1) : str;
    const num = (n) => asBigInt ? BigInt(n) : Number(n);
    const res = parts
        .replace(/_/g, '')
        .split(':')
        .reduce((res, p) => res * num(60) + num(p), num(0));
    return (sign === '-' ? num(-1) * res : res);
}
/**
 * hhhh:mm:ss.sss
 *
 * Internal types handle bigint as number, because TS can't figure it out.
 */
function stringifySexagesimal(node) {
    let { value } = node;
    let num = (n) => n;
    if (typeof value === 'bigint')
        num = n => BigInt(n);
    else if (isNaN(value) || !isFinite(value))
        return stringifyNumber.stringifyNumber(node);
    let sign = '';
    if (value < 0) {
        sign = '-';
        value *= num(-1);
    }
    const _60 = num(60);
    const parts = [value % _60]; // seconds, including ms
    if (value < 60) {
        parts.unshift(0); // at least one : is required
    }
    else {
        value = (value - parts[0]) / _60;
        parts.unshift(value % _60); // minutes
        if (value >= 60) {
            value = (value - parts[0]) / _60;
            parts.unshift(value); // hours
        }
    }
    return (sign +
        parts
            .map(n => String(n).padStart(2, '0'))
            .join(':')
            .replace(/000000\d*$/, '') // % 60 may introduce error
    );
}
const intTime = {
    identify: value => typeof value === 'bigint' || Number.isInteger(value),
    default: true,
    tag: 'tag:yaml.org,2002:int',
    format: 'TIME',
    test: /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+$/,
    resolve: (str, _onError, { intAsBigInt }) => parseSexagesimal(str, intAsBigInt),
    stringify: stringifySexagesimal
};
const floatTime = {
    identify: value => typeof value === 'number',
    default: true,
    tag: 'tag:yaml.org,2002:float',
    format: 'TIME',
    test: /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$/,
    resolve: str => parseSexagesimal(str, false),
    stringify: stringifySexagesimal
};
const timestamp = {
    identify: value => value instanceof Date,
    default: true,
    tag: 'tag:yaml.org,2002:timestamp',
    // If the time zone is omitted, the timestamp is assumed to be specified in UTC. The time part
    // may be omitted altogether, resulting in a date format. In such a case, the time part is
    // assumed to be 00:00:00Z (start of day, UTC).
    test: RegExp('^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})' + // YYYY-Mm-Dd
        '(?:' + // time is optional
        '(?:t|T|[ \\t]+)' + // t | T | whitespace
        '([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2}(\\.[0-9]+)?)' + // Hh:Mm:Ss(.ss)?
        '(?:[ \\t]*(Z|[-+][012]?[0-9](?::[0-9]{2})?))?' + // Z | +5 | -03:30
        ')?$'),
    resolve(str) {
        const match = str.match(timestamp.test);
        if (!match)
            throw new Error('!!timestamp expects a date, starting with yyyy-mm-dd');
        const [, year, month, day, hour, minute, second] = match.map(Number);
        const millisec = match[7] ? Number((match[7] + '00').substr(1, 3)) : 0;
        let date = Date.UTC(year, month - 1, day, hour || 0, minute || 0, second || 0, millisec);
        const tz = match[8];
        if (tz && tz !== 'Z') {
            let d = parseSexagesimal(tz, false);
            if (Math.abs(d) < 30)
                d *= 60;
            date -= 60000 * d;
        }
        return new Date(date);
    },
    stringify: ({ value }) => value?.toISOString().replace(/(T00:00:00)?\.000Z$/, '') ?? ''
};

exports.floatTime = floatTime;
exports.intTime = intTime;
exports.timestamp = timestamp;


/***/ }),

/***/ 6767:
/***/ ((__unused_webpack_module, exports) => {



const FOLD_FLOW = 'flow';
const FOLD_BLOCK = 'block';
const FOLD_QUOTED = 'quoted';
/**
 * Tries to keep input at up to `lineWidth` characters, splitting only on spaces
 * not followed by newlines or spaces unless `mode` is `'quoted'`. Lines are
 * terminated with `\n` and started with `indent`.
 */
function foldFlowLines(text, indent, mode = 'flow', { indentAtStart, lineWidth = 80, minContentWidth = 20, onFold, onOverflow } = {}) {
    if (!lineWidth || lineWidth < 0)
        return text;
    if (lineWidth < minContentWidth)
        minContentWidth = 0;
    const endStep = Math.max(1 + minContentWidth, 1 + lineWidth - indent.length);
    if (text.length <= endStep)
        return text;
    const folds = [];
    const escapedFolds = {};
    let end = lineWidth - indent.length;
    if (typeof indentAtStart === 'number') {
        if (indentAtStart > lineWidth - Math.max(2, minContentWidth))
            folds.push(0);
        else
            end = lineWidth - indentAtStart;
    }
    let split = undefined;
    let prev = undefined;
    let overflow = false;
    let i = -1;
    let escStart = -1;
    let escEnd = -1;
    if (mode === FOLD_BLOCK) {
        i = consumeMoreIndentedLines(text, i, indent.length);
        if (i !== -1)
            end = i + endStep;
    }
    for (let ch; (ch = text[(i += 1)]);) {
        if (mode === FOLD_QUOTED && ch === '\\') {
            escStart = i;
            switch (text[i + 1]) {
                case 'x':
                    i += 3;
                    break;
                case 'u':
                    i += 5;
                    break;
                case 'U':
                    i += 9;
                    break;
                default:
                    i += 1;
            }
            escEnd = i;
        }
        if (ch === '\n') {
            if (mode === FOLD_BLOCK)
                i = consumeMoreIndentedLines(text, i, indent.length);
            end = i + indent.length + endStep;
            split = undefined;
        }
        else {
            if (ch === ' ' &&
                prev &&
                prev !== ' ' &&
                prev !== '\n' &&
                prev !== '\t') {
                // space surrounded by non-space can be replaced with newline + indent
                const next = text[i + 1];
                if (next && next !== ' ' && next !== '\n' && next !== '\t')
                    split = i;
            }
            if (i >= end) {
                if (split) {
                    folds.push(split);
                    end = split + endStep;
                    split = undefined;
                }
                else if (mode === FOLD_QUOTED) {
                    // white-space collected at end may stretch past lineWidth
                    while (prev === ' ' || prev === '\t') {
                        prev = ch;
                        ch = text[(i += 1)];
                        overflow = true;
                    }
                    // Account for newline escape, but don't break preceding escape
                    const j = i > escEnd + 1 ? i - 2 : escStart - 1;
                    // Bail out if lineWidth & minContentWidth are shorter than an escape string
                    if (escapedFolds[j])
                        return text;
                    folds.push(j);
                    escapedFolds[j] = true;
                    end = j + endStep;
                    split = undefined;
                }
                else {
                    overflow = true;
                }
            }
        }
        prev = ch;
    }
    if (overflow && onOverflow)
        onOverflow();
    if (folds.length === 0)
        return text;
    if (onFold)
        onFold();
    let res = text.slice(0, folds[0]);
    for (let i = 0; i < folds.length; ++i) {
        const fold = folds[i];
        const end = folds[i + 1] || text.length;
        if (fold === 0)
            res = `\n${indent}${text.slice(0, end)}`;
        else {
            if (mode === FOLD_QUOTED && escapedFolds[fold])
                res += `${text[fold]}\\`;
            res += `\n${indent}${text.slice(fold + 1, end)}`;
        }
    }
    return res;
}
/**
 * Presumes `i + 1` is at the start of a line
 * @returns index of last newline in more-indented block
 */
function consumeMoreIndentedLines(text, i, indent) {
    let end = i;
    let start = i + 1;
    let ch = text[start];
    while (ch === ' ' || ch === '\t') {
        if (i < start + indent) {
            ch = text[++i];
        }
        else {
            do {
                ch = text[++i];
            } while (ch && ch !== '\n');
            end = i;
            start = i + 1;
            ch = text[start];
        }
    }
    return end;
}

exports.FOLD_BLOCK = FOLD_BLOCK;
exports.FOLD_FLOW = FOLD_FLOW;
exports.FOLD_QUOTED = FOLD_QUOTED;
exports.foldFlowLines = foldFlowLines;


/***/ }),

/***/ 3376:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var anchors = __nccwpck_require__(7048);
var identity = __nccwpck_require__(1891);
var stringifyComment = __nccwpck_require__(2875);
var stringifyString = __nccwpck_require__(3665);

function createStringifyContext(doc, options) {
    const opt = Object.assign({
        blockQuote: true,
        commentString: stringifyComment.stringifyComment,
        defaultKeyType: null,
        defaultStringType: 'PLAIN',
        directives: null,
        doubleQuotedAsJSON: false,
        doubleQuotedMinMultiLineLength: 40,
        falseStr: 'false',
        flowCollectionPadding: true,
        indentSeq: true,
        lineWidth: 80,
        minContentWidth: 20,
        nullStr: 'null',
        simpleKeys: false,
        singleQuote: null,
        trailingComma: false,
        trueStr: 'true',
        verifyAliasOrder: true
    }, doc.schema.toStringOptions, options);
    let inFlow;
    switch (opt.collectionStyle) {
        case 'block':
            inFlow = false;
            break;
        case 'flow':
            inFlow = true;
            break;
        default:
            inFlow = null;
    }
    return {
        anchors: new Set(),
        doc,
        flowCollectionPadding: opt.flowCollectionPadding ? ' ' : '',
        indent: '',
        indentStep: typeof opt.indent === 'number' ? ' '.repeat(opt.indent) : '  ',
        inFlow,
        options: opt
    };
}
function getTagObject(tags, item) {
    if (item.tag) {
        const match = tags.filter(t => t.tag === item.tag);
        if (match.length > 0)
            return match.find(t => t.format === item.format) ?? match[0];
    }
    let tagObj = undefined;
    let obj;
    if (identity.isScalar(item)) {
        obj = item.value;
        let match = tags.filter(t => t.identify?.(obj));
        if (match.length > 1) {
            const testMatch = match.filter(t => t.test);
            if (testMatch.length > 0)
                match = testMatch;
        }
        tagObj =
            match.find(t => t.format === item.format) ?? match.find(t => !t.format);
    }
    else {
        obj = item;
        tagObj = tags.find(t => t.nodeClass && obj instanceof t.nodeClass);
    }
    if (!tagObj) {
        const name = obj?.constructor?.name ?? (obj === null ? 'null' : typeof obj);
        throw new Error(`Tag not resolved for ${name} value`);
    }
    return tagObj;
}
// needs to be called before value stringifier to allow for circular anchor refs
function stringifyProps(node, tagObj, { anchors: anchors$1, doc }) {
    if (!doc.directives)
        return '';
    const props = [];
    const anchor = (identity.isScalar(node) || identity.isCollection(node)) && node.anchor;
    if (anchor && anchors.anchorIsValid(anchor)) {
        anchors$1.add(anchor);
        props.push(`&${anchor}`);
    }
    const tag = node.tag ?? (tagObj.default ? null : tagObj.tag);
    if (tag)
        props.push(doc.directives.tagString(tag));
    return props.join(' ');
}
function stringify(item, ctx, onComment, onChompKeep) {
    if (identity.isPair(item))
        return item.toString(ctx, onComment, onChompKeep);
    if (identity.isAlias(item)) {
        if (ctx.doc.directives)
            return item.toString(ctx);
        if (ctx.resolvedAliases?.has(item)) {
            throw new TypeError(`Cannot stringify circular structure without alias nodes`);
        }
        else {
            if (ctx.resolvedAliases)
                ctx.resolvedAliases.add(item);
            else
                ctx.resolvedAliases = new Set([item]);
            item = item.resolve(ctx.doc);
        }
    }
    let tagObj = undefined;
    const node = identity.isNode(item)
        ? item
        : ctx.doc.createNode(item, { onTagObj: o => (tagObj = o) });
    tagObj ?? (tagObj = getTagObject(ctx.doc.schema.tags, node));
    const props = stringifyProps(node, tagObj, ctx);
    if (props.length > 0)
        ctx.indentAtStart = (ctx.indentAtStart ?? 0) + props.length + 1;
    const str = typeof tagObj.stringify === 'function'
        ? tagObj.stringify(node, ctx, onComment, onChompKeep)
        : identity.isScalar(node)
            ? stringifyString.stringifyString(node, ctx, onComment, onChompKeep)
            : node.toString(ctx, onComment, onChompKeep);
    if (!props)
        return str;
    return identity.isScalar(node) || str[0] === '{' || str[0] === '['
        ? `${props} ${str}`
        : `${props}\n${ctx.indent}${str}`;
}

exports.createStringifyContext = createStringifyContext;
exports.stringify = stringify;


/***/ }),

/***/ 3008:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var stringify = __nccwpck_require__(3376);
var stringifyComment = __nccwpck_require__(2875);

function stringifyCollection(collection, ctx, options) {
    const flow = ctx.inFlow ?? collection.flow;
    const stringify = flow ? stringifyFlowCollection : stringifyBlockCollection;
    return stringify(collection, ctx, options);
}
function stringifyBlockCollection({ comment, items }, ctx, { blockItemPrefix, flowChars, itemIndent, onChompKeep, onComment }) {
    const { indent, options: { commentString } } = ctx;
    const itemCtx = Object.assign({}, ctx, { indent: itemIndent, type: null });
    let chompKeep = false; // flag for the preceding node's status
    const lines = [];
    for (let i = 0; i < items.length; ++i) {
        const item = items[i];
        let comment = null;
        if (identity.isNode(item)) {
            if (!chompKeep && item.spaceBefore)
                lines.push('');
            addCommentBefore(ctx, lines, item.commentBefore, chompKeep);
            if (item.comment)
                comment = item.comment;
        }
        else if (identity.isPair(item)) {
            const ik = identity.isNode(item.key) ? item.key : null;
            if (ik) {
                if (!chompKeep && ik.spaceBefore)
                    lines.push('');
                addCommentBefore(ctx, lines, ik.commentBefore, chompKeep);
            }
        }
        chompKeep = false;
        let str = stringify.stringify(item, itemCtx, () => (comment = null), () => (chompKeep = true));
        if (comment)
            str += stringifyComment.lineComment(str, itemIndent, commentString(comment));
        if (chompKeep && comment)
            chompKeep = false;
        lines.push(blockItemPrefix + str);
    }
    let str;
    if (lines.length === 0) {
        str = flowChars.start + flowChars.end;
    }
    else {
        str = lines[0];
        for (let i = 1; i < lines.length; ++i) {
            const line = lines[i];
            str += line ? `\n${indent}${line}` : '\n';
        }
    }
    if (comment) {
        str += '\n' + stringifyComment.indentComment(commentString(comment), indent);
        if (onComment)
            onComment();
    }
    else if (chompKeep && onChompKeep)
        onChompKeep();
    return str;
}
function stringifyFlowCollection({ items }, ctx, { flowChars, itemIndent }) {
    const { indent, indentStep, flowCollectionPadding: fcPadding, options: { commentString } } = ctx;
    itemIndent += indentStep;
    const itemCtx = Object.assign({}, ctx, {
        indent: itemIndent,
        inFlow: true,
        type: null
    });
    let reqNewline = false;
    let linesAtValue = 0;
    const lines = [];
    for (let i = 0; i < items.length; ++i) {
        const item = items[i];
        let comment = null;
        if (identity.isNode(item)) {
            if (item.spaceBefore)
                lines.push('');
            addCommentBefore(ctx, lines, item.commentBefore, false);
            if (item.comment)
                comment = item.comment;
        }
        else if (identity.isPair(item)) {
            const ik = identity.isNode(item.key) ? item.key : null;
            if (ik) {
                if (ik.spaceBefore)
                    lines.push('');
                addCommentBefore(ctx, lines, ik.commentBefore, false);
                if (ik.comment)
                    reqNewline = true;
            }
            const iv = identity.isNode(item.value) ? item.value : null;
            if (iv) {
                if (iv.comment)
                    comment = iv.comment;
                if (iv.commentBefore)
                    reqNewline = true;
            }
            else if (item.value == null && ik?.comment) {
                comment = ik.comment;
            }
        }
        if (comment)
            reqNewline = true;
        let str = stringify.stringify(item, itemCtx, () => (comment = null));
        reqNewline || (reqNewline = lines.length > linesAtValue || str.includes('\n'));
        if (i < items.length - 1) {
            str += ',';
        }
        else if (ctx.options.trailingComma) {
            if (ctx.options.lineWidth > 0) {
                reqNewline || (reqNewline = lines.reduce((sum, line) => sum + line.length + 2, 2) +
                    (str.length + 2) >
                    ctx.options.lineWidth);
            }
            if (reqNewline) {
                str += ',';
            }
        }
        if (comment)
            str += stringifyComment.lineComment(str, itemIndent, commentString(comment));
        lines.push(str);
        linesAtValue = lines.length;
    }
    const { start, end } = flowChars;
    if (lines.length === 0) {
        return start + end;
    }
    else {
        if (!reqNewline) {
            const len = lines.reduce((sum, line) => sum + line.length + 2, 2);
            reqNewline = ctx.options.lineWidth > 0 && len > ctx.options.lineWidth;
        }
        if (reqNewline) {
            let str = start;
            for (const line of lines)
                str += line ? `\n${indentStep}${indent}${line}` : '\n';
            return `${str}\n${indent}${end}`;
        }
        else {
            return `${start}${fcPadding}${lines.join(' ')}${fcPadding}${end}`;
        }
    }
}
function addCommentBefore({ indent, options: { commentString } }, lines, comment, chompKeep) {
    if (comment && chompKeep)
        comment = comment.replace(/^\n+/, '');
    if (comment) {
        const ic = stringifyComment.indentComment(commentString(comment), indent);
        lines.push(ic.trimStart()); // Avoid double indent on first line
    }
}

exports.stringifyCollection = stringifyCollection;


/***/ }),

/***/ 2875:
/***/ ((__unused_webpack_module, exports) => {



/**
 * Stringifies a comment.
 *
 * Empty comment lines are left empty,
 * lines consisting of a single space are replaced by `#`,
 * and all other lines are prefixed with a `#`.
 */
const stringifyComment = (str) => str.replace(/^(?!$)(?: $)?/gm, '#');
function indentComment(comment, indent) {
    if (/^\n+$/.test(comment))
        return comment.substring(1);
    return indent ? comment.replace(/^(?! *$)/gm, indent) : comment;
}
const lineComment = (str, indent, comment) => str.endsWith('\n')
    ? indentComment(comment, indent)
    : comment.includes('\n')
        ? '\n' + indentComment(comment, indent)
        : (str.endsWith(' ') ? '' : ' ') + comment;

exports.indentComment = indentComment;
exports.lineComment = lineComment;
exports.stringifyComment = stringifyComment;


/***/ }),

/***/ 8577:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var stringify = __nccwpck_require__(3376);
var stringifyComment = __nccwpck_require__(2875);

function stringifyDocument(doc, options) {
    const lines = [];
    let hasDirectives = options.directives === true;
    if (options.directives !== false && doc.directives) {
        const dir = doc.directives.toString(doc);
        if (dir) {
            lines.push(dir);
            hasDirectives = true;
        }
        else if (doc.directives.docStart)
            hasDirectives = true;
    }
    if (hasDirectives)
        lines.push('---');
    const ctx = stringify.createStringifyContext(doc, options);
    const { commentString } = ctx.options;
    if (doc.commentBefore) {
        if (lines.length !== 1)
            lines.unshift('');
        const cs = commentString(doc.commentBefore);
        lines.unshift(stringifyComment.indentComment(cs, ''));
    }
    let chompKeep = false;
    let contentComment = null;
    if (doc.contents) {
        if (identity.isNode(doc.contents)) {
            if (doc.contents.spaceBefore && hasDirectives)
                lines.push('');
            if (doc.contents.commentBefore) {
                const cs = commentString(doc.contents.commentBefore);
                lines.push(stringifyComment.indentComment(cs, ''));
            }
            // top-level block scalars need to be indented if followed by a comment
            ctx.forceBlockIndent = !!doc.comment;
            contentComment = doc.contents.comment;
        }
        const onChompKeep = contentComment ? undefined : () => (chompKeep = true);
        let body = stringify.stringify(doc.contents, ctx, () => (contentComment = null), onChompKeep);
        if (contentComment)
            body += stringifyComment.lineComment(body, '', commentString(contentComment));
        if ((body[0] === '|' || body[0] === '>') &&
            lines[lines.length - 1] === '---') {
            // Top-level block scalars with a preceding doc marker ought to use the
            // same line for their header.
            lines[lines.length - 1] = `--- ${body}`;
        }
        else
            lines.push(body);
    }
    else {
        lines.push(stringify.stringify(doc.contents, ctx));
    }
    if (doc.directives?.docEnd) {
        if (doc.comment) {
            const cs = commentString(doc.comment);
            if (cs.includes('\n')) {
                lines.push('...');
                lines.push(stringifyComment.indentComment(cs, ''));
            }
            else {
                lines.push(`... ${cs}`);
            }
        }
        else {
            lines.push('...');
        }
    }
    else {
        let dc = doc.comment;
        if (dc && chompKeep)
            dc = dc.replace(/^\n+/, '');
        if (dc) {
            if ((!chompKeep || contentComment) && lines[lines.length - 1] !== '')
                lines.push('');
            lines.push(stringifyComment.indentComment(commentString(dc), ''));
        }
    }
    return lines.join('\n') + '\n';
}

exports.stringifyDocument = stringifyDocument;


/***/ }),

/***/ 3677:
/***/ ((__unused_webpack_module, exports) => {



function stringifyNumber({ format, minFractionDigits, tag, value }) {
    if (typeof value === 'bigint')
        return String(value);
    const num = typeof value === 'number' ? value : Number(value);
    if (!isFinite(num))
        return isNaN(num) ? '.nan' : num < 0 ? '-.inf' : '.inf';
    let n = Object.is(value, -0) ? '-0' : JSON.stringify(value);
    if (!format &&
        minFractionDigits &&
        (!tag || tag === 'tag:yaml.org,2002:float') &&
        /^-?\d/.test(n) &&
        !n.includes('e')) {
        let i = n.indexOf('.');
        if (i < 0) {
            i = n.length;
            n += '.';
        }
        let d = minFractionDigits - (n.length - i - 1);
        while (d-- > 0)
            n += '0';
    }
    return n;
}

exports.stringifyNumber = stringifyNumber;


/***/ }),

/***/ 9392:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);
var Scalar = __nccwpck_require__(4305);
var stringify = __nccwpck_require__(3376);
var stringifyComment = __nccwpck_require__(2875);

function stringifyPair({ key, value }, ctx, onComment, onChompKeep) {
    const { allNullValues, doc, indent, indentStep, options: { commentString, indentSeq, simpleKeys } } = ctx;
    let keyComment = (identity.isNode(key) && key.comment) || null;
    if (simpleKeys) {
        if (keyComment) {
            throw new Error('With simple keys, key nodes cannot have comments');
        }
        if (identity.isCollection(key) || (!identity.isNode(key) && typeof key === 'object')) {
            const msg = 'With simple keys, collection cannot be used as a key value';
            throw new Error(msg);
        }
    }
    let explicitKey = !simpleKeys &&
        (!key ||
            (keyComment && value == null && !ctx.inFlow) ||
            identity.isCollection(key) ||
            (identity.isScalar(key)
                ? key.type === Scalar.Scalar.BLOCK_FOLDED || key.type === Scalar.Scalar.BLOCK_LITERAL
                : typeof key === 'object'));
    ctx = Object.assign({}, ctx, {
        allNullValues: false,
        implicitKey: !explicitKey && (simpleKeys || !allNullValues),
        indent: indent + indentStep
    });
    let keyCommentDone = false;
    let chompKeep = false;
    let str = stringify.stringify(key, ctx, () => (keyCommentDone = true), () => (chompKeep = true));
    if (!explicitKey && !ctx.inFlow && str.length > 1024) {
        if (simpleKeys)
            throw new Error('With simple keys, single line scalar must not span more than 1024 characters');
        explicitKey = true;
    }
    if (ctx.inFlow) {
        if (allNullValues || value == null) {
            if (keyCommentDone && onComment)
                onComment();
            return str === '' ? '?' : explicitKey ? `? ${str}` : str;
        }
    }
    else if ((allNullValues && !simpleKeys) || (value == null && explicitKey)) {
        str = `? ${str}`;
        if (keyComment && !keyCommentDone) {
            str += stringifyComment.lineComment(str, ctx.indent, commentString(keyComment));
        }
        else if (chompKeep && onChompKeep)
            onChompKeep();
        return str;
    }
    if (keyCommentDone)
        keyComment = null;
    if (explicitKey) {
        if (keyComment)
            str += stringifyComment.lineComment(str, ctx.indent, commentString(keyComment));
        str = `? ${str}\n${indent}:`;
    }
    else {
        str = `${str}:`;
        if (keyComment)
            str += stringifyComment.lineComment(str, ctx.indent, commentString(keyComment));
    }
    let vsb, vcb, valueComment;
    if (identity.isNode(value)) {
        vsb = !!value.spaceBefore;
        vcb = value.commentBefore;
        valueComment = value.comment;
    }
    else {
        vsb = false;
        vcb = null;
        valueComment = null;
        if (value && typeof value === 'object')
            value = doc.createNode(value);
    }
    ctx.implicitKey = false;
    if (!explicitKey && !keyComment && identity.isScalar(value))
        ctx.indentAtStart = str.length + 1;
    chompKeep = false;
    if (!indentSeq &&
        indentStep.length >= 2 &&
        !ctx.inFlow &&
        !explicitKey &&
        identity.isSeq(value) &&
        !value.flow &&
        !value.tag &&
        !value.anchor) {
        // If indentSeq === false, consider '- ' as part of indentation where possible
        ctx.indent = ctx.indent.substring(2);
    }
    let valueCommentDone = false;
    const valueStr = stringify.stringify(value, ctx, () => (valueCommentDone = true), () => (chompKeep = true));
    let ws = ' ';
    if (keyComment || vsb || vcb) {
        ws = vsb ? '\n' : '';
        if (vcb) {
            const cs = commentString(vcb);
            ws += `\n${stringifyComment.indentComment(cs, ctx.indent)}`;
        }
        if (valueStr === '' && !ctx.inFlow) {
            if (ws === '\n' && valueComment)
                ws = '\n\n';
        }
        else {
            ws += `\n${ctx.indent}`;
        }
    }
    else if (!explicitKey && identity.isCollection(value)) {
        const vs0 = valueStr[0];
        const nl0 = valueStr.indexOf('\n');
        const hasNewline = nl0 !== -1;
        const flow = ctx.inFlow ?? value.flow ?? value.items.length === 0;
        if (hasNewline || !flow) {
            let hasPropsLine = false;
            if (hasNewline && (vs0 === '&' || vs0 === '!')) {
                let sp0 = valueStr.indexOf(' ');
                if (vs0 === '&' &&
                    sp0 !== -1 &&
                    sp0 < nl0 &&
                    valueStr[sp0 + 1] === '!') {
                    sp0 = valueStr.indexOf(' ', sp0 + 1);
                }
                if (sp0 === -1 || nl0 < sp0)
                    hasPropsLine = true;
            }
            if (!hasPropsLine)
                ws = `\n${ctx.indent}`;
        }
    }
    else if (valueStr === '' || valueStr[0] === '\n') {
        ws = '';
    }
    str += ws + valueStr;
    if (ctx.inFlow) {
        if (valueCommentDone && onComment)
            onComment();
    }
    else if (valueComment && !valueCommentDone) {
        str += stringifyComment.lineComment(str, ctx.indent, commentString(valueComment));
    }
    else if (chompKeep && onChompKeep) {
        onChompKeep();
    }
    return str;
}

exports.stringifyPair = stringifyPair;


/***/ }),

/***/ 3665:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var Scalar = __nccwpck_require__(4305);
var foldFlowLines = __nccwpck_require__(6767);

const getFoldOptions = (ctx, isBlock) => ({
    indentAtStart: isBlock ? ctx.indent.length : ctx.indentAtStart,
    lineWidth: ctx.options.lineWidth,
    minContentWidth: ctx.options.minContentWidth
});
// Also checks for lines starting with %, as parsing the output as YAML 1.1 will
// presume that's starting a new document.
const containsDocumentMarker = (str) => /^(%|---|\.\.\.)/m.test(str);
function lineLengthOverLimit(str, lineWidth, indentLength) {
    if (!lineWidth || lineWidth < 0)
        return false;
    const limit = lineWidth - indentLength;
    const strLen = str.length;
    if (strLen <= limit)
        return false;
    for (let i = 0, start = 0; i < strLen; ++i) {
        if (str[i] === '\n') {
            if (i - start > limit)
                return true;
            start = i + 1;
            if (strLen - start <= limit)
                return false;
        }
    }
    return true;
}
function doubleQuotedString(value, ctx) {
    const json = JSON.stringify(value);
    if (ctx.options.doubleQuotedAsJSON)
        return json;
    const { implicitKey } = ctx;
    const minMultiLineLength = ctx.options.doubleQuotedMinMultiLineLength;
    const indent = ctx.indent || (containsDocumentMarker(value) ? '  ' : '');
    let str = '';
    let start = 0;
    for (let i = 0, ch = json[i]; ch; ch = json[++i]) {
        if (ch === ' ' && json[i + 1] === '\\' && json[i + 2] === 'n') {
            // space before newline needs to be escaped to not be folded
            str += json.slice(start, i) + '\\ ';
            i += 1;
            start = i;
            ch = '\\';
        }
        if (ch === '\\')
            switch (json[i + 1]) {
                case 'u':
                    {
                        str += json.slice(start, i);
                        const code = json.substr(i + 2, 4);
                        switch (code) {
                            case '0000':
                                str += '\\0';
                                break;
                            case '0007':
                                str += '\\a';
                                break;
                            case '000b':
                                str += '\\v';
                                break;
                            case '001b':
                                str += '\\e';
                                break;
                            case '0085':
                                str += '\\N';
                                break;
                            case '00a0':
                                str += '\\_';
                                break;
                            case '2028':
                                str += '\\L';
                                break;
                            case '2029':
                                str += '\\P';
                                break;
                            default:
                                if (code.substr(0, 2) === '00')
                                    str += '\\x' + code.substr(2);
                                else
                                    str += json.substr(i, 6);
                        }
                        i += 5;
                        start = i + 1;
                    }
                    break;
                case 'n':
                    if (implicitKey ||
                        json[i + 2] === '"' ||
                        json.length < minMultiLineLength) {
                        i += 1;
                    }
                    else {
                        // folding will eat first newline
                        str += json.slice(start, i) + '\n\n';
                        while (json[i + 2] === '\\' &&
                            json[i + 3] === 'n' &&
                            json[i + 4] !== '"') {
                            str += '\n';
                            i += 2;
                        }
                        str += indent;
                        // space after newline needs to be escaped to not be folded
                        if (json[i + 2] === ' ')
                            str += '\\';
                        i += 1;
                        start = i + 1;
                    }
                    break;
                default:
                    i += 1;
            }
    }
    str = start ? str + json.slice(start) : json;
    return implicitKey
        ? str
        : foldFlowLines.foldFlowLines(str, indent, foldFlowLines.FOLD_QUOTED, getFoldOptions(ctx, false));
}
function singleQuotedString(value, ctx) {
    if (ctx.options.singleQuote === false ||
        (ctx.implicitKey && value.includes('\n')) ||
        /[ \t]\n|\n[ \t]/.test(value) // single quoted string can't have leading or trailing whitespace around newline
    )
        return doubleQuotedString(value, ctx);
    const indent = ctx.indent || (containsDocumentMarker(value) ? '  ' : '');
    const res = "'" + value.replace(/'/g, "''").replace(/\n+/g, `$&\n${indent}`) + "'";
    return ctx.implicitKey
        ? res
        : foldFlowLines.foldFlowLines(res, indent, foldFlowLines.FOLD_FLOW, getFoldOptions(ctx, false));
}
function quotedString(value, ctx) {
    const { singleQuote } = ctx.options;
    let qs;
    if (singleQuote === false)
        qs = doubleQuotedString;
    else {
        const hasDouble = value.includes('"');
        const hasSingle = value.includes("'");
        if (hasDouble && !hasSingle)
            qs = singleQuotedString;
        else if (hasSingle && !hasDouble)
            qs = doubleQuotedString;
        else
            qs = singleQuote ? singleQuotedString : doubleQuotedString;
    }
    return qs(value, ctx);
}
// The negative lookbehind avoids a polynomial search,
// but isn't supported yet on Safari: https://caniuse.com/js-regexp-lookbehind
let blockEndNewlines;
try {
    blockEndNewlines = new RegExp('(^|(?<!\n))\n+(?!\n|$)', 'g');
}
catch {
    blockEndNewlines = /\n+(?!\n|$)/g;
}
function blockString({ comment, type, value }, ctx, onComment, onChompKeep) {
    const { blockQuote, commentString, lineWidth } = ctx.options;
    // 1. Block can't end in whitespace unless the last line is non-empty.
    // 2. Strings consisting of only whitespace are best rendered explicitly.
    if (!blockQuote || /\n[\t ]+$/.test(value)) {
        return quotedString(value, ctx);
    }
    const indent = ctx.indent ||
        (ctx.forceBlockIndent || containsDocumentMarker(value) ? '  ' : '');
    const literal = blockQuote === 'literal'
        ? true
        : blockQuote === 'folded' || type === Scalar.Scalar.BLOCK_FOLDED
            ? false
            : type === Scalar.Scalar.BLOCK_LITERAL
                ? true
                : !lineLengthOverLimit(value, lineWidth, indent.length);
    if (!value)
        return literal ? '|\n' : '>\n';
    // determine chomping from whitespace at value end
    let chomp;
    let endStart;
    for (endStart = value.length; endStart > 0; --endStart) {
        const ch = value[endStart - 1];
        if (ch !== '\n' && ch !== '\t' && ch !== ' ')
            break;
    }
    let end = value.substring(endStart);
    const endNlPos = end.indexOf('\n');
    if (endNlPos === -1) {
        chomp = '-'; // strip
    }
    else if (value === end || endNlPos !== end.length - 1) {
        chomp = '+'; // keep
        if (onChompKeep)
            onChompKeep();
    }
    else {
        chomp = ''; // clip
    }
    if (end) {
        value = value.slice(0, -end.length);
        if (end[end.length - 1] === '\n')
            end = end.slice(0, -1);
        end = end.replace(blockEndNewlines, `$&${indent}`);
    }
    // determine indent indicator from whitespace at value start
    let startWithSpace = false;
    let startEnd;
    let startNlPos = -1;
    for (startEnd = 0; startEnd < value.length; ++startEnd) {
        const ch = value[startEnd];
        if (ch === ' ')
            startWithSpace = true;
        else if (ch === '\n')
            startNlPos = startEnd;
        else
            break;
    }
    let start = value.substring(0, startNlPos < startEnd ? startNlPos + 1 : startEnd);
    if (start) {
        value = value.substring(start.length);
        start = start.replace(/\n+/g, `$&${indent}`);
    }
    const indentSize = indent ? '2' : '1'; // root is at -1
    // Leading | or > is added later
    let header = (startWithSpace ? indentSize : '') + chomp;
    if (comment) {
        header += ' ' + commentString(comment.replace(/ ?[\r\n]+/g, ' '));
        if (onComment)
            onComment();
    }
    if (!literal) {
        const foldedValue = value
            .replace(/\n+/g, '\n$&')
            .replace(/(?:^|\n)([\t ].*)(?:([\n\t ]*)\n(?![\n\t ]))?/g, '$1$2') // more-indented lines aren't folded
            //                ^ more-ind. ^ empty     ^ capture next empty lines only at end of indent
            .replace(/\n+/g, `$&${indent}`);
        let literalFallback = false;
        const foldOptions = getFoldOptions(ctx, true);
        if (blockQuote !== 'folded' && type !== Scalar.Scalar.BLOCK_FOLDED) {
            foldOptions.onOverflow = () => {
                literalFallback = true;
            };
        }
        const body = foldFlowLines.foldFlowLines(`${start}${foldedValue}${end}`, indent, foldFlowLines.FOLD_BLOCK, foldOptions);
        if (!literalFallback)
            return `>${header}\n${indent}${body}`;
    }
    value = value.replace(/\n+/g, `$&${indent}`);
    return `|${header}\n${indent}${start}${value}${end}`;
}
function plainString(item, ctx, onComment, onChompKeep) {
    const { type, value } = item;
    const { actualString, implicitKey, indent, indentStep, inFlow } = ctx;
    if ((implicitKey && value.includes('\n')) ||
        (inFlow && /[[\]{},]/.test(value))) {
        return quotedString(value, ctx);
    }
    if (/^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/.test(value)) {
        // not allowed:
        // - '-' or '?'
        // - start with an indicator character (except [?:-]) or /[?-] /
        // - '\n ', ': ' or ' \n' anywhere
        // - '#' not preceded by a non-space char
        // - end with ' ' or ':'
        return implicitKey || inFlow || !value.includes('\n')
            ? quotedString(value, ctx)
            : blockString(item, ctx, onComment, onChompKeep);
    }
    if (!implicitKey &&
        !inFlow &&
        type !== Scalar.Scalar.PLAIN &&
        value.includes('\n')) {
        // Where allowed & type not set explicitly, prefer block style for multiline strings
        return blockString(item, ctx, onComment, onChompKeep);
    }
    if (containsDocumentMarker(value)) {
        if (indent === '') {
            ctx.forceBlockIndent = true;
            return blockString(item, ctx, onComment, onChompKeep);
        }
        else if (implicitKey && indent === indentStep) {
            return quotedString(value, ctx);
        }
    }
    const str = value.replace(/\n+/g, `$&\n${indent}`);
    // Verify that output will be parsed as a string, as e.g. plain numbers and
    // booleans get parsed with those types in v1.2 (e.g. '42', 'true' & '0.9e-3'),
    // and others in v1.1.
    if (actualString) {
        const test = (tag) => tag.default && tag.tag !== 'tag:yaml.org,2002:str' && tag.test?.test(str);
        const { compat, tags } = ctx.doc.schema;
        if (tags.some(test) || compat?.some(test))
            return quotedString(value, ctx);
    }
    return implicitKey
        ? str
        : foldFlowLines.foldFlowLines(str, indent, foldFlowLines.FOLD_FLOW, getFoldOptions(ctx, false));
}
function stringifyString(item, ctx, onComment, onChompKeep) {
    const { implicitKey, inFlow } = ctx;
    const ss = typeof item.value === 'string'
        ? item
        : Object.assign({}, item, { value: String(item.value) });
    let { type } = item;
    if (type !== Scalar.Scalar.QUOTE_DOUBLE) {
        // force double quotes on control characters & unpaired surrogates
        if (/[\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]/u.test(ss.value))
            type = Scalar.Scalar.QUOTE_DOUBLE;
    }
    const _stringify = (_type) => {
        switch (_type) {
            case Scalar.Scalar.BLOCK_FOLDED:
            case Scalar.Scalar.BLOCK_LITERAL:
                return implicitKey || inFlow
                    ? quotedString(ss.value, ctx) // blocks are not valid inside flow containers
                    : blockString(ss, ctx, onComment, onChompKeep);
            case Scalar.Scalar.QUOTE_DOUBLE:
                return doubleQuotedString(ss.value, ctx);
            case Scalar.Scalar.QUOTE_SINGLE:
                return singleQuotedString(ss.value, ctx);
            case Scalar.Scalar.PLAIN:
                return plainString(ss, ctx, onComment, onChompKeep);
            default:
                return null;
        }
    };
    let res = _stringify(type);
    if (res === null) {
        const { defaultKeyType, defaultStringType } = ctx.options;
        const t = (implicitKey && defaultKeyType) || defaultStringType;
        res = _stringify(t);
        if (res === null)
            throw new Error(`Unsupported default string type ${t}`);
    }
    return res;
}

exports.stringifyString = stringifyString;


/***/ }),

/***/ 1360:
/***/ ((__unused_webpack_module, exports, __nccwpck_require__) => {



var identity = __nccwpck_require__(1891);

const BREAK = Symbol('break visit');
const SKIP = Symbol('skip children');
const REMOVE = Symbol('remove node');
/**
 * Apply a visitor to an AST node or document.
 *
 * Walks through the tree (depth-first) starting from `node`, calling a
 * `visitor` function with three arguments:
 *   - `key`: For sequence values and map `Pair`, the node's index in the
 *     collection. Within a `Pair`, `'key'` or `'value'`, correspondingly.
 *     `null` for the root node.
 *   - `node`: The current node.
 *   - `path`: The ancestry of the current node.
 *
 * The return value of the visitor may be used to control the traversal:
 *   - `undefined` (default): Do nothing and continue
 *   - `visit.SKIP`: Do not visit the children of this node, continue with next
 *     sibling
 *   - `visit.BREAK`: Terminate traversal completely
 *   - `visit.REMOVE`: Remove the current node, then continue with the next one
 *   - `Node`: Replace the current node, then continue by visiting it
 *   - `number`: While iterating the items of a sequence or map, set the index
 *     of the next step. This is useful especially if the index of the current
 *     node has changed.
 *
 * If `visitor` is a single function, it will be called with all values
 * encountered in the tree, including e.g. `null` values. Alternatively,
 * separate visitor functions may be defined for each `Map`, `Pair`, `Seq`,
 * `Alias` and `Scalar` node. To define the same visitor function for more than
 * one node type, use the `Collection` (map and seq), `Value` (map, seq & scalar)
 * and `Node` (alias, map, seq & scalar) targets. Of all these, only the most
 * specific defined one will be used for each node.
 */
function visit(node, visitor) {
    const visitor_ = initVisitor(visitor);
    if (identity.isDocument(node)) {
        const cd = visit_(null, node.contents, visitor_, Object.freeze([node]));
        if (cd === REMOVE)
            node.contents = null;
    }
    else
        visit_(null, node, visitor_, Object.freeze([]));
}
// Without the `as symbol` casts, TS declares these in the `visit`
// namespace using `var`, but then complains about that because
// `unique symbol` must be `const`.
/** Terminate visit traversal completely */
visit.BREAK = BREAK;
/** Do not visit the children of the current node */
visit.SKIP = SKIP;
/** Remove the current node */
visit.REMOVE = REMOVE;
function visit_(key, node, visitor, path) {
    const ctrl = callVisitor(key, node, visitor, path);
    if (identity.isNode(ctrl) || identity.isPair(ctrl)) {
        replaceNode(key, path, ctrl);
        return visit_(key, ctrl, visitor, path);
    }
    if (typeof ctrl !== 'symbol') {
        if (identity.isCollection(node)) {
            path = Object.freeze(path.concat(node));
            for (let i = 0; i < node.items.length; ++i) {
                const ci = visit_(i, node.items[i], visitor, path);
                if (typeof ci === 'number')
                    i = ci - 1;
                else if (ci === BREAK)
                    return BREAK;
                else if (ci === REMOVE) {
                    node.items.splice(i, 1);
                    i -= 1;
                }
            }
        }
        else if (identity.isPair(node)) {
            path = Object.freeze(path.concat(node));
            const ck = visit_('key', node.key, visitor, path);
            if (ck === BREAK)
                return BREAK;
            else if (ck === REMOVE)
                node.key = null;
            const cv = visit_('value', node.value, visitor, path);
            if (cv === BREAK)
                return BREAK;
            else if (cv === REMOVE)
                node.value = null;
        }
    }
    return ctrl;
}
/**
 * Apply an async visitor to an AST node or document.
 *
 * Walks through the tree (depth-first) starting from `node`, calling a
 * `visitor` function with three arguments:
 *   - `key`: For sequence values and map `Pair`, the node's index in the
 *     collection. Within a `Pair`, `'key'` or `'value'`, correspondingly.
 *     `null` for the root node.
 *   - `node`: The current node.
 *   - `path`: The ancestry of the current node.
 *
 * The return value of the visitor may be used to control the traversal:
 *   - `Promise`: Must resolve to one of the following values
 *   - `undefined` (default): Do nothing and continue
 *   - `visit.SKIP`: Do not visit the children of this node, continue with next
 *     sibling
 *   - `visit.BREAK`: Terminate traversal completely
 *   - `visit.REMOVE`: Remove the current node, then continue with the next one
 *   - `Node`: Replace the current node, then continue by visiting it
 *   - `number`: While iterating the items of a sequence or map, set the index
 *     of the next step. This is useful especially if the index of the current
 *     node has changed.
 *
 * If `visitor` is a single function, it will be called with all values
 * encountered in the tree, including e.g. `null` values. Alternatively,
 * separate visitor functions may be defined for each `Map`, `Pair`, `Seq`,
 * `Alias` and `Scalar` node. To define the same visitor function for more than
 * one node type, use the `Collection` (map and seq), `Value` (map, seq & scalar)
 * and `Node` (alias, map, seq & scalar) targets. Of all these, only the most
 * specific defined one will be used for each node.
 */
async function visitAsync(node, visitor) {
    const visitor_ = initVisitor(visitor);
    if (identity.isDocument(node)) {
        const cd = await visitAsync_(null, node.contents, visitor_, Object.freeze([node]));
        if (cd === REMOVE)
            node.contents = null;
    }
    else
        await visitAsync_(null, node, visitor_, Object.freeze([]));
}
// Without the `as symbol` casts, TS declares these in the `visit`
// namespace using `var`, but then complains about that because
// `unique symbol` must be `const`.
/** Terminate visit traversal completely */
visitAsync.BREAK = BREAK;
/** Do not visit the children of the current node */
visitAsync.SKIP = SKIP;
/** Remove the current node */
visitAsync.REMOVE = REMOVE;
async function visitAsync_(key, node, visitor, path) {
    const ctrl = await callVisitor(key, node, visitor, path);
    if (identity.isNode(ctrl) || identity.isPair(ctrl)) {
        replaceNode(key, path, ctrl);
        return visitAsync_(key, ctrl, visitor, path);
    }
    if (typeof ctrl !== 'symbol') {
        if (identity.isCollection(node)) {
            path = Object.freeze(path.concat(node));
            for (let i = 0; i < node.items.length; ++i) {
                const ci = await visitAsync_(i, node.items[i], visitor, path);
                if (typeof ci === 'number')
                    i = ci - 1;
                else if (ci === BREAK)
                    return BREAK;
                else if (ci === REMOVE) {
                    node.items.splice(i, 1);
                    i -= 1;
                }
            }
        }
        else if (identity.isPair(node)) {
            path = Object.freeze(path.concat(node));
            const ck = await visitAsync_('key', node.key, visitor, path);
            if (ck === BREAK)
                return BREAK;
            else if (ck === REMOVE)
                node.key = null;
            const cv = await visitAsync_('value', node.value, visitor, path);
            if (cv === BREAK)
                return BREAK;
            else if (cv === REMOVE)
                node.value = null;
        }
    }
    return ctrl;
}
function initVisitor(visitor) {
    if (typeof visitor === 'object' &&
        (visitor.Collection || visitor.Node || visitor.Value)) {
        return Object.assign({
            Alias: visitor.Node,
            Map: visitor.Node,
            Scalar: visitor.Node,
            Seq: visitor.Node
        }, visitor.Value && {
            Map: visitor.Value,
            Scalar: visitor.Value,
            Seq: visitor.Value
        }, visitor.Collection && {
            Map: visitor.Collection,
            Seq: visitor.Collection
        }, visitor);
    }
    return visitor;
}
function callVisitor(key, node, visitor, path) {
    if (typeof visitor === 'function')
        return visitor(key, node, path);
    if (identity.isMap(node))
        return visitor.Map?.(key, node, path);
    if (identity.isSeq(node))
        return visitor.Seq?.(key, node, path);
    if (identity.isPair(node))
        return visitor.Pair?.(key, node, path);
    if (identity.isScalar(node))
        return visitor.Scalar?.(key, node, path);
    if (identity.isAlias(node))
        return visitor.Alias?.(key, node, path);
    return undefined;
}
function replaceNode(key, path, node) {
    const parent = path[path.length - 1];
    if (identity.isCollection(parent)) {
        parent.items[key] = node;
    }
    else if (identity.isPair(parent)) {
        if (key === 'key')
            parent.key = node;
        else
            parent.value = node;
    }
    else if (identity.isDocument(parent)) {
        parent.contents = node;
    }
    else {
        const pt = identity.isAlias(parent) ? 'alias' : 'scalar';
        throw new Error(`Cannot replace node with ${pt} parent`);
    }
}

exports.visit = visit;
exports.visitAsync = visitAsync;


/***/ }),

/***/ 9415:
/***/ ((__webpack_module__, __unused_webpack___webpack_exports__, __nccwpck_require__) => {

__nccwpck_require__.a(__webpack_module__, async (__webpack_handle_async_dependencies__, __webpack_async_result__) => { try {
/* harmony import */ var _run_js__WEBPACK_IMPORTED_MODULE_0__ = __nccwpck_require__(8960);
// Entry point of the CLI (dist/cli.js, run by bin/convox-build.js).

process.exitCode = await (0,_run_js__WEBPACK_IMPORTED_MODULE_0__/* .runCli */ .ak)(process.argv.slice(2), {
    stdout: t => process.stdout.write(t),
    stderr: t => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd()
});

__webpack_async_result__();
} catch(e) { __webpack_async_result__(e); } }, 1);

/***/ }),

/***/ 8960:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __nccwpck_require__) => {


// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  ak: () => (/* binding */ runCli)
});

// UNUSED EXPORTS: finalLines, packageVersion, serviceLines

;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:fs/promises"
const promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs/promises");
;// CONCATENATED MODULE: external "node:os"
const external_node_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");
;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
;// CONCATENATED MODULE: ./src/core/errors.js
/**
 * A mistake the user can fix: reported as annotations / `file:line:col: message`, never with a
 * stack trace. Everything else that is thrown is a bug or an environment failure.
 */
class errors_UserError extends Error {
    problems;
    constructor(problems) {
        const list = typeof problems === 'string'
            ? [{ message: problems }]
            : Array.isArray(problems)
                ? problems
                : [problems];
        super(list.map(formatProblem).join('\n'));
        this.name = 'UserError';
        this.problems = list;
    }
}
/** `file:line:col: message`, `input "x": message`, or the bare message. */
function formatProblem(p) {
    if (p.file) {
        const pos = [p.file, p.line, p.line !== undefined ? p.col : undefined]
            .filter(v => v !== undefined)
            .join(':');
        return `${pos}: ${p.message}`;
    }
    if (p.input)
        return `input "${p.input}": ${p.message}`;
    return p.message;
}
function isUserError(e) {
    return e instanceof errors_UserError;
}

;// CONCATENATED MODULE: external "node:child_process"
const external_node_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");
;// CONCATENATED MODULE: ./src/core/exec.js

class ExecError extends Error {
    command;
    result;
    constructor(command, result) {
        const last = lastLines(result.stderr || result.stdout, 1);
        super(`${command} exited with code ${result.exitCode}${last ? `: ${last}` : ''}`);
        this.command = command;
        this.result = result;
        this.name = 'ExecError';
    }
}
function lastLines(text, n) {
    return text.trimEnd().split('\n').slice(-n).join('\n').trim();
}
const spawnExec = (command, args, options = {}) => new Promise((resolve, reject) => {
    const child = (0,external_node_child_process_namespaceObject.spawn)(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group, so an abort also ends its children (docker's buildx plugin).
        detached: true
    });
    const out = [];
    const err = [];
    const stdoutLines = lineSplitter(options.onStdoutLine);
    const stderrLines = lineSplitter(options.onStderrLine);
    child.stdout.on('data', (b) => {
        out.push(b);
        stdoutLines.push(b);
    });
    child.stderr.on('data', (b) => {
        err.push(b);
        stderrLines.push(b);
    });
    let killTimer;
    const killGroup = (signal) => {
        try {
            if (child.pid)
                process.kill(-child.pid, signal);
        }
        catch {
            child.kill(signal);
        }
    };
    const onAbort = () => {
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), 5000);
        killTimer.unref();
    };
    if (options.signal?.aborted)
        onAbort();
    else
        options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', e => {
        options.signal?.removeEventListener('abort', onAbort);
        reject(e.code === 'ENOENT'
            ? new Error(`${command}: not found on PATH`)
            : e);
    });
    child.on('close', (code, sig) => {
        options.signal?.removeEventListener('abort', onAbort);
        if (killTimer)
            clearTimeout(killTimer);
        stdoutLines.end();
        stderrLines.end();
        resolve({
            exitCode: code ?? (sig ? 128 : 1),
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8')
        });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
});
function lineSplitter(onLine) {
    let rest = '';
    return {
        push(b) {
            if (!onLine)
                return;
            const parts = (rest + b.toString('utf8')).split('\n');
            rest = parts.pop() ?? '';
            for (const p of parts)
                onLine(p.replace(/\r$/, ''));
        },
        end() {
            if (onLine && rest)
                onLine(rest);
            rest = '';
        }
    };
}

;// CONCATENATED MODULE: ./src/core/build-args.js
// The `build-args` input: one per line, `NAME` (a managed arg, else from the environment) or
// `NAME=VALUE` (everything after the first `=`, verbatim). As on the rack, a managed arg is
// passed only when named, and a build gets only the args its Dockerfile declares.

const MANAGED_ARGS = [
    'BUILD_APP',
    'BUILD_AUTH',
    'BUILD_DEVELOPMENT',
    'BUILD_GENERATION',
    'BUILD_GIT_SHA',
    'BUILD_ID',
    'BUILD_MANIFEST',
    'BUILD_RACK'
];
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
function isManagedArg(name) {
    return MANAGED_ARGS.includes(name);
}
/** Parses the lines; all bad lines are reported at once. Later lines override earlier ones. */
function parseBuildArgs(lines, context) {
    const { env, managed, logger } = context;
    const problems = [];
    const byName = new Map();
    lines.forEach((raw, index) => {
        const line = index + 1;
        if (raw.trim() === '')
            return;
        const eq = raw.indexOf('=');
        const name = eq < 0 ? raw.trim() : raw.slice(0, eq);
        if (!ARG_NAME.test(name)) {
            problems.push({
                input: 'build-args',
                line,
                message: `line ${line}: "${eq < 0 ? name : name + '='}" is not a valid build arg name (letters, digits and _, not starting with a digit); each line is NAME or NAME=VALUE`
            });
            return;
        }
        let arg;
        if (eq >= 0) {
            const isManaged = isManagedArg(name);
            if (isManaged) {
                logger.warning(`build-args line ${line}: ${name}=... overrides the managed value of ${name}`, {
                    input: 'build-args',
                    line
                });
            }
            arg = { name, value: raw.slice(eq + 1), line, managed: false, secret: name === 'BUILD_AUTH' };
        }
        else if (isManagedArg(name)) {
            arg = { name, value: managed(name), line, managed: true, secret: name === 'BUILD_AUTH' };
        }
        else if (Object.prototype.hasOwnProperty.call(env, name) && env[name] !== undefined) {
            arg = { name, value: String(env[name]), line, managed: false, secret: false };
        }
        else {
            problems.push({
                input: 'build-args',
                line,
                message: `line ${line}: ${name} is not a managed build arg (${MANAGED_ARGS.join(', ')}) and is not set in the environment; write ${name}=VALUE to give it a value`
            });
            return;
        }
        if (arg.secret && arg.value !== '')
            logger.mask(arg.value);
        const prev = byName.get(name);
        if (prev) {
            logger.warning(`build-args line ${line}: ${name} is given again (first on line ${prev.line}); the last one wins`, { input: 'build-args', line });
            byName.delete(name);
        }
        byName.set(name, arg);
    });
    if (problems.length > 0)
        throw new errors_UserError(problems);
    return [...byName.values()];
}
/**
 * BUILD_AUTH as the rack makes it (provider/k8s/build.go buildAuth): a JSON object from registry
 * (host or repository) to `{Username, Password}`, with the push registry's and Docker Hub's
 * credentials where given. A secret: callers mask it.
 */
function buildAuth(settings) {
    const auth = {};
    if (settings.dockerHubUsername && settings.dockerHubPassword) {
        auth[settings.dockerHubRegistry || 'docker.io'] = {
            Username: settings.dockerHubUsername,
            Password: settings.dockerHubPassword
        };
    }
    if (settings.registry && settings.registryUsername && settings.registryPassword) {
        auth[settings.registry] = {
            Username: settings.registryUsername,
            Password: settings.registryPassword
        };
    }
    return JSON.stringify(auth);
}

;// CONCATENATED MODULE: ./src/core/docker-config.js
// A docker config directory private to this run: logins for BuildKit clients (buildx, buildctl)
// without touching the runner's own ~/.docker/config.json (which may hold its own tokens).




/** The auths key Docker uses for Docker Hub. */
const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
/** Host part of an image reference or repository (`docker.io` when it has none). */
function registryHost(ref) {
    const first = ref.split('/')[0] ?? '';
    if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) {
        return first;
    }
    return 'docker.io';
}
/** The auths key for the Docker Hub login: Docker Hub's own key, or the mirror's host. */
function dockerHubAuthKey(dockerHubRegistry) {
    const host = dockerHubRegistry.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    return host === '' ||
        host === 'docker.io' ||
        host === 'index.docker.io' ||
        host === 'registry-1.docker.io'
        ? DOCKER_HUB_AUTH_KEY
        : host;
}
/** The logins a run needs: the push registry and Docker Hub (or its mirror), when given. */
function loginsFromSettings(s) {
    const logins = [];
    if (s.registry && s.registryUsername) {
        logins.push({
            host: registryHost(s.registry) === 'docker.io' ? DOCKER_HUB_AUTH_KEY : registryHost(s.registry),
            username: s.registryUsername,
            password: s.registryPassword
        });
    }
    if (s.dockerHubUsername) {
        const host = dockerHubAuthKey(s.dockerHubRegistry);
        // The same host twice: the push registry's login wins (it must be able to push).
        if (!logins.some(l => l.host === host)) {
            logins.push({ host, username: s.dockerHubUsername, password: s.dockerHubPassword });
        }
    }
    return logins;
}
/** The user's docker config directory ($DOCKER_CONFIG or ~/.docker). */
function userDockerConfigDir(env) {
    return env.DOCKER_CONFIG || external_node_path_namespaceObject.join(env.HOME || (0,external_node_os_namespaceObject.homedir)(), '.docker');
}
/** The config.json content (pure, for tests). */
function dockerConfigJson(logins, env) {
    const userDir = userDockerConfigDir(env);
    const auths = {};
    for (const l of logins) {
        auths[l.host] = { auth: Buffer.from(`${l.username}:${l.password}`).toString('base64') };
    }
    const config = {
        auths,
        // Keeps the user's own plugins (buildx installed per user) visible to `docker`.
        cliPluginsExtraDirs: [external_node_path_namespaceObject.join(userDir, 'cli-plugins')]
    };
    const current = readCurrentContext(userDir);
    if (current)
        config.currentContext = current;
    return config;
}
function readCurrentContext(userDir) {
    try {
        const raw = JSON.parse((0,external_node_fs_namespaceObject.readFileSync)(external_node_path_namespaceObject.join(userDir, 'config.json'), 'utf8'));
        return typeof raw.currentContext === 'string' ? raw.currentContext : undefined;
    }
    catch {
        return undefined;
    }
}
/**
 * Writes config.json (mode 0600 in a 0700 directory under tempDir) and returns the child env:
 * DOCKER_CONFIG to it, BUILDX_CONFIG to the user's buildx state so their builders stay visible.
 */
async function createDockerConfig(logins, run) {
    for (const l of logins) {
        run.logger.mask(l.password);
        run.logger.mask(Buffer.from(`${l.username}:${l.password}`).toString('base64'));
    }
    await (0,promises_namespaceObject.mkdir)(run.tempDir, { recursive: true });
    const dir = await (0,promises_namespaceObject.mkdtemp)(external_node_path_namespaceObject.join(run.tempDir, 'docker-config-'));
    await (0,promises_namespaceObject.chmod)(dir, 0o700);
    const userDir = userDockerConfigDir(run.env);
    const config = dockerConfigJson(logins, run.env);
    await (0,promises_namespaceObject.writeFile)(external_node_path_namespaceObject.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n', {
        mode: 0o600
    });
    // Docker contexts live beside config.json: link them so `currentContext` still resolves.
    const contexts = external_node_path_namespaceObject.join(userDir, 'contexts');
    if ((0,external_node_fs_namespaceObject.existsSync)(contexts))
        await (0,promises_namespaceObject.symlink)(contexts, external_node_path_namespaceObject.join(dir, 'contexts'));
    const env = {
        DOCKER_CONFIG: dir,
        BUILDX_CONFIG: run.env.BUILDX_CONFIG || external_node_path_namespaceObject.join(userDir, 'buildx')
    };
    return {
        dir,
        env,
        cleanup: () => (0,promises_namespaceObject.rm)(dir, { recursive: true, force: true })
    };
}

;// CONCATENATED MODULE: ./src/core/engine/cache.js
// BuildKit cache import/export options per build, as `type=...,key=value` strings that both
// buildx (`--cache-from/--cache-to`) and buildctl (`--import-cache/--export-cache`) take.


/** `auto`: registry when pushing, else gha on GitHub, else local. */
function resolveCacheMode(mode, ctx) {
    if (mode !== 'auto')
        return mode;
    if (ctx.push)
        return 'registry';
    return ctx.github ? 'gha' : 'local';
}
/** The rack's registry cache ref for a service. */
function registryCacheRef(registry, service) {
    return `${registry}:${service}.buildcache`;
}
/** Scope-safe piece of a git ref. */
function scopePart(s) {
    return s.replace(/[^A-Za-z0-9._-]+/g, '-');
}
/**
 * Cache options for one build, named after its first service.
 * `mode` must already be resolved (see resolveCacheMode).
 */
function cacheOptions(mode, service, ctx) {
    const imports = [];
    const exports = [];
    let local;
    switch (mode) {
        case 'registry': {
            if (!ctx.registry) {
                throw new errors_UserError({ input: 'cache', message: 'cache "registry" needs a registry' });
            }
            const ref = registryCacheRef(ctx.registry, service);
            imports.push(`type=registry,ref=${ref}`);
            exports.push(`type=registry,ref=${ref},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true`);
            break;
        }
        case 'gha': {
            const base = `${ctx.app}-${service}`;
            const pr = ctx.env.GITHUB_BASE_REF && ctx.env.GITHUB_HEAD_REF;
            // Pull requests write their own scope and read it first, then the default branch's.
            const scope = pr ? `${base}-pr-${scopePart(ctx.env.GITHUB_HEAD_REF ?? '')}` : base;
            const extra = ghaAttributes(ctx.env);
            imports.push(`type=gha,scope=${scope}${extra}`);
            if (pr)
                imports.push(`type=gha,scope=${base}${extra}`);
            exports.push(`type=gha,scope=${scope},mode=max,ignore-error=true${extra}`);
            break;
        }
        case 'local': {
            const src = external_node_path_namespaceObject.join(ctx.localCacheDir, scopePart(service));
            const dest = `${src}.new`;
            imports.push(`type=local,src=${src}`);
            exports.push(`type=local,dest=${dest},mode=max,ignore-error=true`);
            local = { src, dest };
            break;
        }
        case 'inline': {
            exports.push('type=inline');
            // Still reads the rack's registry cache when there is one.
            if (ctx.registry)
                imports.push(`type=registry,ref=${registryCacheRef(ctx.registry, service)}`);
            break;
        }
        case 'none':
            break;
    }
    return { mode, imports: ctx.noCache ? [] : imports, exports, ...(local ? { local } : {}) };
}
/** The GitHub cache service's address and token (buildx reads them itself; buildctl cannot). */
function ghaAttributes(env) {
    let s = '';
    if (env.ACTIONS_CACHE_URL)
        s += `,url=${env.ACTIONS_CACHE_URL}`;
    if (env.ACTIONS_RESULTS_URL)
        s += `,url_v2=${env.ACTIONS_RESULTS_URL}`;
    if (env.ACTIONS_RUNTIME_TOKEN)
        s += `,token=${env.ACTIONS_RUNTIME_TOKEN}`;
    if (env.ACTIONS_CACHE_SERVICE_V2 && /^(true|1)$/i.test(env.ACTIONS_CACHE_SERVICE_V2)) {
        s += ',version=2';
    }
    return s;
}
/** Secret parts of cache options (tokens), to mask. */
function cacheSecrets(env) {
    return env.ACTIONS_RUNTIME_TOKEN ? [env.ACTIONS_RUNTIME_TOKEN] : [];
}
/** Cache types a builder cannot export, e.g. buildx's `docker` driver exports inline only. */
function canExport(driver, mode) {
    if (driver !== 'docker')
        return true;
    return mode === 'inline' || mode === 'none';
}

;// CONCATENATED MODULE: ./src/core/engine/progress.js
// Reads BuildKit's `--progress rawjson` stream (one JSON SolveStatus per line, same for buildx
// and buildctl) into step states, readable log lines, and counts of cached / total steps.
/** A Dockerfile instruction (`[2/4] RUN ...`, `[base 1/3] FROM ...`), not BuildKit's internals. */
function isDockerfileStep(name) {
    return /^\[[^\]]*?\d+\/\d+\]/.test(name);
}
/** Collects one build's progress; `push` each stderr line of the engine. */
class ProgressReader {
    onStep;
    secrets;
    steps = new Map();
    partial = new Map();
    lines = [];
    /** Lines of stderr that were not JSON (the CLI's own messages, e.g. its final error). */
    otherLines = [];
    warnings = [];
    /**
     * @param onStep called once when a Dockerfile step completes (for a streamed one-line progress)
     */
    constructor(onStep, 
    /** Secret values replaced by *** in everything read (BuildKit prints arg values in names). */
    secrets = []) {
        this.onStep = onStep;
        this.secrets = secrets;
    }
    redact(s) {
        let out = s;
        for (const v of this.secrets)
            if (v)
                out = out.split(v).join('***');
        return out;
    }
    push(line) {
        const trimmed = this.redact(line.trim());
        if (trimmed === '')
            return;
        let status;
        try {
            if (!trimmed.startsWith('{'))
                throw new Error('not JSON');
            status = JSON.parse(trimmed);
        }
        catch {
            this.otherLines.push(trimmed);
            this.lines.push(trimmed);
            return;
        }
        for (const v of status.vertexes ?? [])
            this.vertex(v);
        for (const l of status.logs ?? [])
            this.log(l);
        for (const w of status.warnings ?? []) {
            const text = w.short
                ? this.redact(Buffer.from(w.short, 'base64').toString('utf8').trim())
                : '';
            if (text && !this.warnings.includes(text)) {
                this.warnings.push(text);
                this.lines.push(`WARNING: ${text}`);
            }
        }
    }
    vertex(v) {
        if (!v.digest)
            return;
        let step = this.steps.get(v.digest);
        if (!step) {
            step = { digest: v.digest, number: this.steps.size + 1, name: v.name ?? '', cached: false };
            this.steps.set(v.digest, step);
            this.lines.push(`#${step.number} ${step.name}`);
        }
        const wasDone = Boolean(step.completed);
        if (v.name)
            step.name = v.name;
        if (v.started)
            step.started = v.started;
        if (v.cached)
            step.cached = true;
        if (v.error)
            step.error = v.error;
        if (v.completed && !wasDone) {
            step.completed = v.completed;
            this.flush(v.digest);
            if (step.error)
                this.lines.push(`#${step.number} ERROR: ${step.error}`);
            else if (step.cached)
                this.lines.push(`#${step.number} CACHED`);
            else
                this.lines.push(`#${step.number} DONE ${seconds(step.started, step.completed)}`);
            if (isDockerfileStep(step.name))
                this.onStep?.(step);
        }
        else if (v.cached && !wasDone && !v.started) {
            // BuildKit may report a cached vertex without times.
            this.lines.push(`#${step.number} CACHED`);
        }
    }
    log(l) {
        if (!l.vertex || !l.data)
            return;
        const step = this.steps.get(l.vertex);
        const text = (this.partial.get(l.vertex) ?? '') +
            this.redact(Buffer.from(l.data, 'base64').toString('utf8'));
        const parts = text.split(/\r?\n/);
        this.partial.set(l.vertex, parts.pop() ?? '');
        for (const p of parts)
            this.lines.push(`#${step?.number ?? '?'} ${p}`);
    }
    flush(digest) {
        const rest = this.partial.get(digest);
        if (rest)
            this.lines.push(`#${this.steps.get(digest)?.number ?? '?'} ${rest}`);
        this.partial.delete(digest);
    }
    /** Dockerfile steps seen, in order. */
    dockerfileSteps() {
        return [...this.steps.values()].filter(s => isDockerfileStep(s.name));
    }
    /** Steps that failed (after a successful build: e.g. a cache export with ignore-error). */
    failedSteps() {
        return [...this.steps.values()].filter(s => s.error);
    }
    counts() {
        const steps = this.dockerfileSteps().filter(s => s.completed || s.cached);
        return { cachedSteps: steps.filter(s => s.cached).length, totalSteps: steps.length };
    }
    /** The readable log so far (numbered like BuildKit's plain progress). */
    text() {
        for (const d of [...this.partial.keys()])
            this.flush(d);
        return this.lines.join('\n');
    }
    /**
     * The most meaningful error: the failing step's error (not cancellations), else the CLI's
     * last `error:` line, else its last line.
     */
    errorMessage() {
        // A missing cache to import is normal, cancellations follow the real failure.
        const failed = [...this.steps.values()].filter(s => s.error &&
            !/context canceled|^canceled$/i.test(s.error) &&
            !/^importing cache/i.test(s.name));
        const step = failed.find(s => isDockerfileStep(s.name)) ?? failed.at(-1);
        if (step?.error)
            return step.error.trim();
        const cli = this.otherLines.filter(l => /^(error|ERROR)\b/.test(l)).at(-1);
        if (cli)
            return cli.replace(/^(error|ERROR):?\s*/, '').trim();
        return this.otherLines.at(-1) ?? '';
    }
}
function seconds(started, completed) {
    if (!started || !completed)
        return '';
    const ms = Date.parse(completed) - Date.parse(started);
    return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)}s` : '';
}

;// CONCATENATED MODULE: ./src/core/engine/run-build.js
// Runs one engine process for one build: progress parsed from rawjson, digest from the
// metadata file, local cache rotated, a cache export failure turned into a warning.



/**
 * A build that ran and failed: `reason` is BuildKit's most meaningful error line. A mistake in the
 * user's Dockerfile or code, so one line without a stack; the log goes on to the rack's record.
 */
class BuildFailure extends errors_UserError {
    services;
    reason;
    log;
    constructor(services, reason, log) {
        super(`build of ${services.join(', ')} failed: ${reason.replace(/\s*\n\s*/g, ' ')}`);
        this.services = services;
        this.reason = reason;
        this.log = log;
        this.name = 'BuildFailure';
    }
}
/** Reads `containerimage.digest` from a --metadata-file ('' when absent). */
async function readMetadataDigest(file) {
    try {
        const meta = JSON.parse(await (0,promises_namespaceObject.readFile)(file, 'utf8'));
        const d = meta['containerimage.digest'];
        return typeof d === 'string' ? d : '';
    }
    catch {
        return '';
    }
}
/** BuildKit's steps that export the cache (a missing cache to import is normal: not these). */
function isCacheExport(stepName) {
    return /^(exporting cache|preparing build cache for export|writing cache)/i.test(stepName);
}
async function runBuild(engine, req, ctx) {
    const cmd = engine.command(req);
    const secrets = [
        ...cmd.exposed,
        ...Object.values(cmd.env),
        ...req.secretArgs.map(n => req.spec.argValues[n] ?? '')
    ].filter(v => v.length > 0);
    for (const v of secrets)
        ctx.mask?.(v);
    await (0,promises_namespaceObject.rm)(req.metadataFile, { force: true });
    if (req.cache.local)
        await (0,promises_namespaceObject.rm)(req.cache.local.dest, { recursive: true, force: true });
    const progress = new ProgressReader(ctx.onStep, secrets);
    const started = Date.now();
    const result = await ctx.exec(cmd.command, cmd.args, {
        env: { ...ctx.env, ...cmd.env },
        signal: ctx.signal,
        onStderrLine: l => progress.push(l),
        onStdoutLine: l => progress.push(l)
    });
    const durationMs = Date.now() - started;
    const log = progress.text();
    const services = req.spec.services;
    if (result.exitCode !== 0) {
        const reason = progress.errorMessage() || `${cmd.command} exited with code ${result.exitCode}`;
        throw new BuildFailure(services, reason, log);
    }
    const warnings = [...progress.warnings];
    // With ignore-error=true a failed cache export only shows as a failed vertex.
    for (const s of progress.failedSteps()) {
        if (isCacheExport(s.name)) {
            warnings.push(`${services.join(', ')}: ${s.name} failed: ${s.error} (the build succeeded)`);
        }
    }
    if (req.cache.local) {
        // BuildKit cannot export to the directory it imports from: swap the new cache in.
        const { src, dest } = req.cache.local;
        try {
            await (0,promises_namespaceObject.rm)(src, { recursive: true, force: true });
            await (0,promises_namespaceObject.rename)(dest, src);
        }
        catch (e) {
            warnings.push(`${services.join(', ')}: local cache not saved: ${e.message}`);
        }
    }
    return {
        index: req.index,
        services,
        digest: await readMetadataDigest(req.metadataFile),
        ...progress.counts(),
        durationMs,
        log,
        warnings
    };
}

;// CONCATENATED MODULE: ./src/core/engine/scheduler.js
// Runs a plan's builds: distinct builds concurrently (up to `concurrency`), each once and tagged
// for all its services; image services copied into the repository. The first failure aborts the
// rest and is reported as one line naming the service(s) and BuildKit's reason.
//
// Logging: while builds run, each completed Dockerfile step prints one line prefixed by the
// build's services (parallel builds interleave line by line, each line says whose it is); when a
// build ends, its whole log is printed in one group, so groups never interleave.



/** Union length of [start, end] intervals. */
function unionMs(intervals) {
    const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
    let total = 0;
    let end = -Infinity;
    for (const [s, e] of sorted) {
        if (e <= end)
            continue;
        total += e - Math.max(s, end);
        end = e;
    }
    return total;
}
function scheduler_short(s, n = 90) {
    const one = s.replace(/\s+/g, ' ');
    return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}
async function runBuilds(o) {
    const { plan, engine, run } = o;
    const logger = run.logger;
    const started = Date.now();
    const warnings = [];
    const warn = (m) => {
        warnings.push(m);
        logger.warning(m);
    };
    for (const s of cacheSecrets(run.env))
        logger.mask(s);
    let mode = resolveCacheMode(o.cache, { push: o.push, github: run.github });
    if (!canExport(engine.driver, mode)) {
        warn(`the ${engine.description} cannot export the "${mode}" cache: using the inline cache instead (use a docker-container builder for the ${mode} cache)`);
        mode = 'inline';
    }
    const secretArgs = o.secretArgs ?? ['BUILD_AUTH'];
    const byName = new Map(plan.services.map(s => [s.name, s]));
    const ociArchives = {};
    const requests = plan.builds.map((spec, index) => {
        const first = spec.services[0] ?? `build-${index}`;
        let output = { type: 'none' };
        if (o.push)
            output = { type: 'push' };
        else if (o.ociArchives) {
            output = { type: 'oci', dest: external_node_path_namespaceObject.join(run.tempDir, `build-${index}.tar`) };
            ociArchives[index] = output.dest;
        }
        return {
            index,
            spec,
            tags: spec.services.map(s => byName.get(s)?.image ?? `${plan.app}:${s}.${plan.buildId}`),
            output,
            cache: cacheOptions(mode, first, {
                app: plan.app,
                registry: plan.registry,
                push: o.push,
                github: run.github,
                env: run.env,
                localCacheDir: run.localCacheDir,
                noCache: o.noCache
            }),
            noCache: o.noCache,
            platforms: o.platforms,
            secrets: o.secrets,
            secretArgs,
            metadataFile: external_node_path_namespaceObject.join(run.tempDir, `build-${index}.metadata.json`)
        };
    });
    const copies = o.push && o.copyImage ? plan.services.filter(s => s.build === null && s.from) : [];
    if (o.push && !o.copyImage && plan.services.some(s => s.build === null)) {
        warn('image services were not copied into the repository: no registry client available');
    }
    const abort = new AbortController();
    const onOuterAbort = () => abort.abort();
    o.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const intervals = [];
    const results = [];
    const copied = new Map();
    let failure;
    const jobs = [
        ...requests.map(req => async () => {
            const who = req.spec.services.join(', ');
            logger.info(`[${who}] building ${req.spec.context}/${req.spec.dockerfile}`);
            const t0 = Date.now();
            try {
                const r = await runBuild(engine, req, {
                    exec: run.exec,
                    env: { ...run.env, ...o.childEnv },
                    signal: abort.signal,
                    mask: v => logger.mask(v),
                    onStep: step => logger.info(`[${who}] ${scheduler_short(step.name)} ${step.error ? 'ERROR' : step.cached ? 'CACHED' : 'done'}`)
                });
                results.push(r);
                for (const w of r.warnings)
                    warn(w);
                await logger.group(`Build ${who}: ${r.cachedSteps}/${r.totalSteps} steps cached, ${(r.durationMs / 1000).toFixed(1)}s`, async () => logger.info(r.log));
            }
            catch (e) {
                if (e instanceof BuildFailure && !abort.signal.aborted) {
                    await logger.group(`Build ${who}: failed`, async () => logger.info(e.log));
                }
                throw e;
            }
            finally {
                intervals.push([t0, Date.now()]);
            }
        }),
        ...copies.map(s => async () => {
            const from = s.from ?? '';
            const t0 = Date.now();
            const hub = o.dockerHubRegistry && o.dockerHubRegistry !== 'docker.io'
                ? ` (Docker Hub images via ${o.dockerHubRegistry})`
                : '';
            logger.info(`[${s.name}] copying ${from} to ${s.image}${hub}`);
            try {
                const digest = await o.copyImage(from, s.image, abort.signal);
                copied.set(s.name, { digest, durationMs: Date.now() - t0 });
            }
            catch (e) {
                throw new BuildFailure([s.name], `copying ${from}: ${e.message}`, '');
            }
        })
    ];
    let next = 0;
    const worker = async () => {
        while (!abort.signal.aborted && next < jobs.length) {
            const job = jobs[next++];
            try {
                await job();
            }
            catch (e) {
                // The first failure is the cause; the others are the aborted builds.
                failure ??= e;
                abort.abort();
            }
        }
    };
    try {
        await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, jobs.length)) }, worker));
    }
    finally {
        o.signal?.removeEventListener('abort', onOuterAbort);
    }
    if (o.signal?.aborted)
        throw new Error('builds cancelled');
    if (failure)
        throw failure;
    results.sort((a, b) => a.index - b.index);
    const services = plan.services.map(s => {
        const r = s.build === null ? undefined : results.find(x => x.index === s.build);
        const c = copied.get(s.name);
        return {
            name: s.name,
            image: s.image,
            digest: r?.digest ?? c?.digest ?? '',
            build: s.build,
            sharedWith: r ? r.services.filter(n => n !== s.name) : [],
            cachedSteps: r?.cachedSteps ?? 0,
            totalSteps: r?.totalSteps ?? 0,
            durationMs: r?.durationMs ?? c?.durationMs ?? 0
        };
    });
    return {
        builds: results,
        services,
        warnings,
        ociArchives,
        wallMs: Date.now() - started,
        engineMs: unionMs(intervals)
    };
}

;// CONCATENATED MODULE: external "node:crypto"
const external_node_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");
;// CONCATENATED MODULE: external "node:http"
const external_node_http_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:http");
;// CONCATENATED MODULE: external "node:https"
const external_node_https_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:https");
;// CONCATENATED MODULE: external "node:stream"
const external_node_stream_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream");
;// CONCATENATED MODULE: ./src/core/registry/auth.js
/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme and
 * comma-separated `name=value` / `name="quoted \"value\""` parameters.
 */
function parseChallenges(header) {
    const challenges = [];
    let i = 0;
    const n = header.length;
    const skipSpace = () => {
        while (i < n && /[\s,]/.test(header[i] ?? ''))
            i++;
    };
    const token = () => {
        const start = i;
        while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i] ?? ''))
            i++;
        return header.slice(start, i);
    };
    while (i < n) {
        skipSpace();
        const scheme = token();
        if (!scheme)
            break;
        const current = { scheme: scheme.toLowerCase(), params: {} };
        challenges.push(current);
        for (;;) {
            while (i < n && /[ \t]/.test(header[i] ?? ''))
                i++;
            const save = i;
            skipSpace();
            const name = token();
            while (i < n && /[ \t]/.test(header[i] ?? ''))
                i++;
            if (!name || header[i] !== '=') {
                // Not a parameter: the next challenge's scheme (or a token68) starts here.
                i = save;
                break;
            }
            i++;
            while (i < n && /[ \t]/.test(header[i] ?? ''))
                i++;
            let value = '';
            if (header[i] === '"') {
                i++;
                while (i < n && header[i] !== '"') {
                    if (header[i] === '\\' && i + 1 < n)
                        i++;
                    value += header[i];
                    i++;
                }
                i++;
            }
            else {
                const start = i;
                while (i < n && header[i] !== ',' && !/\s/.test(header[i] ?? ''))
                    i++;
                value = header.slice(start, i);
            }
            current.params[name.toLowerCase()] = value;
            while (i < n && /[ \t]/.test(header[i] ?? ''))
                i++;
            if (header[i] === ',')
                i++;
            else
                break;
        }
    }
    return challenges;
}
/** The challenge we can answer: Bearer preferred, then Basic. */
function pickChallenge(header) {
    if (!header)
        return undefined;
    const all = parseChallenges(header);
    return all.find(c => c.scheme === 'bearer') ?? all.find(c => c.scheme === 'basic');
}
function basicAuthorization(credentials) {
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
/** The token endpoint URL for a Bearer challenge and the scopes a request needs. */
function tokenUrl(challenge, scopes, account) {
    const realm = challenge.params.realm;
    if (!realm)
        throw new Error('Bearer challenge without a realm');
    const url = new URL(realm);
    if (challenge.params.service)
        url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes)
        url.searchParams.append('scope', scope);
    if (account)
        url.searchParams.set('account', account);
    return url;
}
/** `repository:<name>:<actions>` as the distribution token spec writes it. */
function repositoryScope(repository, actions) {
    return `repository:${repository}:${actions}`;
}

;// CONCATENATED MODULE: ./src/core/registry/reference.js

const DOCKER_HUB = 'docker.io';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.%]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const MAX_NAME = 255;
/**
 * Parses an image reference. Throws a UserError naming the reference (and `input` when given)
 * for anything Docker would reject.
 */
function parseReference(text, input) {
    const fail = (why) => {
        throw new errors_UserError({ message: `invalid image reference "${text}": ${why}`, input });
    };
    const ref = text.trim();
    if (ref === '')
        fail('empty');
    if (/\s/.test(ref))
        fail('contains whitespace');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref))
        fail('give the image without a URL scheme');
    let rest = ref;
    let digest;
    const at = rest.indexOf('@');
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
        if (!DIGEST.test(digest))
            fail(`invalid digest "${digest}"`);
        if (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
            fail('a sha256 digest is 64 lowercase hex characters');
        }
    }
    let tag;
    const lastSlash = rest.lastIndexOf('/');
    const colon = rest.lastIndexOf(':');
    if (colon > lastSlash) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
        if (!TAG.test(tag))
            fail(`invalid tag "${tag}"`);
    }
    if (rest === '')
        fail('missing repository name');
    let registry = DOCKER_HUB;
    let repository = rest;
    const slash = rest.indexOf('/');
    if (slash >= 0) {
        const first = rest.slice(0, slash);
        if (first.includes('.') ||
            first.includes(':') ||
            first === 'localhost' ||
            /[A-Z]/.test(first)) {
            registry = first;
            repository = rest.slice(slash + 1);
            if (!DOMAIN.test(registry))
                fail(`invalid registry host "${registry}"`);
        }
    }
    if (registry === 'index.docker.io' || registry === 'registry-1.docker.io')
        registry = DOCKER_HUB;
    if (registry === DOCKER_HUB && !repository.includes('/'))
        repository = `library/${repository}`;
    for (const part of repository.split('/')) {
        if (part === '')
            fail('empty path component');
        if (/[A-Z]/.test(part))
            fail('repository name must be lowercase');
        if (!PATH_COMPONENT.test(part))
            fail(`invalid repository name component "${part}"`);
    }
    if (registry.length + 1 + repository.length > MAX_NAME) {
        fail(`repository name longer than ${MAX_NAME} characters`);
    }
    if (tag === undefined && digest === undefined)
        tag = 'latest';
    const parsed = { registry, repository };
    if (tag !== undefined)
        parsed.tag = tag;
    if (digest !== undefined)
        parsed.digest = digest;
    return parsed;
}
/** Parses a repository without tag or digest (e.g. the `registry` input). */
function parseRepository(text, input) {
    const t = text.trim();
    if (t.includes('@') || t.lastIndexOf(':') > t.lastIndexOf('/')) {
        throw new UserError({
            message: `invalid repository "${text}": give a repository without tag or digest`,
            input
        });
    }
    const ref = parseReference(t, input);
    return { registry: ref.registry, repository: ref.repository };
}
/** The full reference: `registry/repository[:tag][@digest]`. */
function formatReference(ref) {
    return (`${ref.registry}/${ref.repository}` +
        (ref.tag !== undefined ? `:${ref.tag}` : '') +
        (ref.digest !== undefined ? `@${ref.digest}` : ''));
}
/** What the registry API calls the manifest: the digest when pinned, else the tag. */
function manifestReference(ref) {
    return ref.digest ?? ref.tag ?? 'latest';
}
/** The same repository with another tag / digest. */
function withTag(repo, tag) {
    if (!TAG.test(tag))
        throw new UserError(`invalid tag "${tag}"`);
    return { registry: repo.registry, repository: repo.repository, tag };
}
function withDigest(repo, digest) {
    return { registry: repo.registry, repository: repo.repository, digest };
}
/** True for hosts reached over plain HTTP: localhost, 127.0.0.0/8 and ::1 (any port). */
function isLoopbackHost(host) {
    let name = host;
    if (name.startsWith('['))
        name = name.slice(1, name.indexOf(']'));
    else if (name.split(':').length === 2)
        name = name.split(':')[0] ?? '';
    name = name.toLowerCase();
    if (name === 'localhost' || name.endsWith('.localhost'))
        return true;
    if (name === '::1' || name === '0:0:0:0:0:0:0:1')
        return true;
    return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

;// CONCATENATED MODULE: ./src/core/registry/client.js







const MediaType = {
    ociIndex: 'application/vnd.oci.image.index.v1+json',
    ociManifest: 'application/vnd.oci.image.manifest.v1+json',
    ociConfig: 'application/vnd.oci.image.config.v1+json',
    ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
    ociLayer: 'application/vnd.oci.image.layer.v1.tar',
    dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
    dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
    dockerConfig: 'application/vnd.docker.container.image.v1+json',
    dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip'
};
const MANIFEST_ACCEPT = [
    MediaType.ociIndex,
    MediaType.ociManifest,
    MediaType.dockerList,
    MediaType.dockerManifest
].join(', ');
function isIndexMediaType(mediaType) {
    return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList;
}
class RetryableError extends Error {
}
/** Distribution API v2 client: streams blobs, answers auth challenges, retries what is transient. */
class RegistryClient {
    challenges = new Map();
    tokens = new Map();
    retries;
    retryDelayMs;
    timeoutMs;
    hub;
    options;
    constructor(options = {}) {
        this.options = options;
        this.retries = options.retries ?? 4;
        this.retryDelayMs = options.retryDelayMs ?? 500;
        this.timeoutMs = options.timeoutMs ?? 60_000;
        const hub = (options.dockerHubRegistry ?? '').trim().replace(/^https?:\/\//, '');
        this.hub =
            hub === '' || hub === DOCKER_HUB || hub === 'index.docker.io' ? 'registry-1.docker.io' : hub;
    }
    /** The host actually contacted for a registry name (`docker.io` → the hub or its mirror). */
    endpoint(registry) {
        return registry === DOCKER_HUB ? this.hub : registry;
    }
    /** True when both repositories live on the same endpoint (a blob mount is possible). */
    sameRegistry(a, b) {
        return this.endpoint(a.registry) === this.endpoint(b.registry);
    }
    baseUrl(host) {
        return `${isLoopbackHost(host) ? 'http' : 'https'}://${host}`;
    }
    credentialsFor(registry) {
        const lookup = this.options.credentials;
        if (!lookup)
            return undefined;
        const host = this.endpoint(registry);
        return (lookup(host) ??
            (registry === DOCKER_HUB && host !== DOCKER_HUB ? lookup(DOCKER_HUB) : undefined));
    }
    // ---- manifests ----
    async getManifest(ref) {
        const path = `/v2/${ref.repository}/manifests/${manifestReference(ref)}`;
        return this.retry(ref.registry, async () => {
            const res = await this.send(ref.registry, 'GET', path, {
                scopes: [repositoryScope(ref.repository, 'pull')],
                headers: { accept: MANIFEST_ACCEPT }
            });
            if (res.status === 404) {
                await drain(res);
                throw new errors_UserError(`image ${formatReference(ref)} not found`);
            }
            await this.expectOk(res, ref.registry, `get manifest of ${formatReference(ref)}`);
            const bytes = Buffer.from(await res.arrayBuffer());
            const digest = sha256(bytes);
            if (ref.digest && ref.digest !== digest) {
                throw new Error(`manifest of ${formatReference(ref)} has digest ${digest}`);
            }
            const json = JSON.parse(bytes.toString('utf8'));
            const header = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
            const mediaType = json.mediaType ||
                (header && header !== 'application/json' && header !== 'text/plain'
                    ? header
                    : json.manifests
                        ? MediaType.ociIndex
                        : MediaType.ociManifest);
            if (json.schemaVersion !== 2) {
                throw new errors_UserError(`image ${formatReference(ref)}: manifest schema 1 is not supported`);
            }
            return { bytes, mediaType, digest, json };
        });
    }
    /** Pushes a manifest under a tag or its digest; returns its digest. */
    async putManifest(ref, bytes, mediaType) {
        const path = `/v2/${ref.repository}/manifests/${manifestReference(ref)}`;
        return this.retry(ref.registry, async () => {
            const res = await this.send(ref.registry, 'PUT', path, {
                scopes: [repositoryScope(ref.repository, 'pull,push')],
                headers: { 'content-type': mediaType },
                body: () => bytes
            });
            await this.expectOk(res, ref.registry, `push manifest ${formatReference(ref)}`);
            await drain(res);
            return sha256(bytes);
        });
    }
    // ---- blobs ----
    /** Size of a blob, or undefined when the repository does not have it. */
    async headBlob(repo, digest) {
        return this.retry(repo.registry, async () => {
            const res = await this.send(repo.registry, 'HEAD', `/v2/${repo.repository}/blobs/${digest}`, {
                scopes: [repositoryScope(repo.repository, 'pull')]
            });
            await drain(res);
            if (res.status === 404)
                return undefined;
            await this.expectOk(res, repo.registry, `check blob ${digest}`);
            return Number(res.headers.get('content-length') ?? '0');
        });
    }
    /** A blob as a stream (following the registry's redirects, e.g. to object storage). */
    async getBlob(repo, digest) {
        const host = this.endpoint(repo.registry);
        const scopes = [repositoryScope(repo.repository, 'pull')];
        const url = `${this.baseUrl(host)}/v2/${repo.repository}/blobs/${digest}`;
        return this.retry(repo.registry, async () => {
            // node:http rather than fetch: fetch reads bodies ahead of the consumer (tens of MB per
            // blob), node:http pauses the socket, so memory stays flat however large the layer.
            let res = await this.streamGet(url, await this.authorization(repo.registry, scopes));
            if (res.statusCode === 401) {
                const challenge = pickChallenge(headerOf(res, 'www-authenticate'));
                res.resume();
                if (challenge) {
                    this.challenges.set(host, challenge);
                    this.forgetTokens(host);
                }
                res = await this.streamGet(url, await this.authorization(repo.registry, scopes));
            }
            const status = res.statusCode ?? 0;
            if (status === 200) {
                return { stream: res, size: Number(res.headers['content-length'] ?? '-1') };
            }
            const body = await readText(res);
            if (status === 404)
                throw new Error(`blob ${digest} not found in ${host}/${repo.repository}`);
            throw this.statusError(new Response(null, { status }), host, `get blob ${digest}`, body);
        });
    }
    /** GET with redirects followed; credentials only sent to the registry's own origin. */
    async streamGet(url, authorization, hops = 0) {
        const target = new URL(url);
        const headers = {};
        if (authorization)
            headers.authorization = authorization;
        const res = await new Promise((resolve, reject) => {
            const get = target.protocol === 'https:' ? external_node_https_namespaceObject.get : external_node_http_namespaceObject.get;
            const req = get(target, { headers }, resolve);
            req.setTimeout(this.timeoutMs, () => req.destroy(new TimeoutError(`no answer within ${this.timeoutMs / 1000}s`)));
            req.on('error', e => reject(e instanceof TimeoutError
                ? new RetryableError(e.message)
                : networkError(Object.assign(new Error(e.message), { cause: e }))));
        });
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && hops < 5) {
            res.resume();
            const next = new URL(res.headers.location, target);
            return this.streamGet(next.toString(), next.origin === target.origin ? authorization : undefined, hops + 1);
        }
        return res;
    }
    /**
     * Uploads a blob unless the repository has it: a cross-repository mount first when
     * `mountFrom` is on the same registry, else the bytes from `open()` (called again on retry).
     */
    async uploadBlob(repo, blob, open, options = {}) {
        if ((await this.headBlob(repo, blob.digest)) !== undefined)
            return 'exists';
        const mount = options.mountFrom && this.sameRegistry(options.mountFrom, repo)
            ? options.mountFrom
            : undefined;
        const scopes = [repositoryScope(repo.repository, 'pull,push')];
        if (mount && mount.repository !== repo.repository) {
            scopes.push(repositoryScope(mount.repository, 'pull'));
        }
        return this.retry(repo.registry, async () => {
            const query = mount && mount.repository !== repo.repository
                ? `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(mount.repository)}`
                : '';
            const start = await this.send(repo.registry, 'POST', `/v2/${repo.repository}/blobs/uploads/${query}`, {
                scopes,
                headers: { 'content-length': '0' },
                body: () => Buffer.alloc(0)
            });
            await this.expectOk(start, repo.registry, `start upload of ${blob.digest}`);
            await drain(start);
            if (start.status === 201 && query)
                return 'mounted';
            let location = this.location(repo.registry, start);
            if (options.chunkSize && options.chunkSize > 0) {
                location = await this.uploadChunks(repo, location, open, options.chunkSize, scopes);
                const done = await this.send(repo.registry, 'PUT', client_withDigest(location, blob.digest), {
                    scopes,
                    headers: { 'content-length': '0' },
                    body: () => Buffer.alloc(0)
                });
                await this.expectOk(done, repo.registry, `finish upload of ${blob.digest}`);
                await drain(done);
            }
            else {
                const done = await this.send(repo.registry, 'PUT', client_withDigest(location, blob.digest), {
                    scopes,
                    headers: { 'content-type': 'application/octet-stream' },
                    body: open,
                    contentLength: blob.size
                });
                await this.expectOk(done, repo.registry, `upload ${blob.digest}`);
                await drain(done);
            }
            return 'uploaded';
        });
    }
    async uploadChunks(repo, location, open, chunkSize, scopes) {
        let offset = 0;
        const send = async (chunk) => {
            const res = await this.send(repo.registry, 'PATCH', location, {
                scopes,
                headers: {
                    'content-type': 'application/octet-stream',
                    'content-range': `${offset}-${offset + chunk.length - 1}`
                },
                body: () => chunk,
                contentLength: chunk.length
            });
            await this.expectOk(res, repo.registry, 'upload chunk');
            await drain(res);
            location = this.location(repo.registry, res);
            offset += chunk.length;
        };
        let pending = [];
        let pendingBytes = 0;
        for await (const data of await open()) {
            let buf = data;
            while (buf.length > 0) {
                const take = Math.min(buf.length, chunkSize - pendingBytes);
                pending.push(buf.subarray(0, take));
                pendingBytes += take;
                buf = buf.subarray(take);
                if (pendingBytes === chunkSize) {
                    await send(Buffer.concat(pending));
                    pending = [];
                    pendingBytes = 0;
                }
            }
        }
        if (pendingBytes > 0)
            await send(Buffer.concat(pending));
        return location;
    }
    location(registry, res) {
        const loc = res.headers.get('location');
        if (!loc)
            throw new Error(`registry ${this.endpoint(registry)}: upload response without a Location`);
        return new URL(loc, this.baseUrl(this.endpoint(registry))).toString();
    }
    // ---- login ----
    /**
     * Verifies credentials the way `docker login` does: GET /v2/ and, when challenged, Basic auth or
     * the token flow. A rejected login is a one-line UserError naming the registry.
     */
    async checkLogin(host, credentials) {
        const base = this.baseUrl(host);
        const wrong = () => new errors_UserError(`login to ${host} failed: wrong username or password`);
        await this.retry(host, async () => {
            const first = await this.fetchOnce('GET', `${base}/v2/`, {});
            await drain(first);
            if (first.ok)
                return;
            if (first.status !== 401)
                throw this.statusError(first, host, 'log in', '');
            const challenge = pickChallenge(first.headers.get('www-authenticate'));
            if (!challenge)
                throw new Error(`registry ${host}: unsupported authentication challenge`);
            let authorization;
            if (challenge.scheme === 'basic') {
                authorization = basicAuthorization(credentials);
            }
            else {
                const res = await this.fetchOnce('GET', tokenUrl(challenge, [], credentials.username).toString(), {
                    authorization: basicAuthorization(credentials)
                });
                if (res.status === 401 || res.status === 403) {
                    await drain(res);
                    throw wrong();
                }
                if (!res.ok)
                    throw this.statusError(res, host, 'get a token', '');
                authorization = `Bearer ${await readToken(res)}`;
            }
            const second = await this.fetchOnce('GET', `${base}/v2/`, { authorization });
            await drain(second);
            if (second.status === 401 || second.status === 403)
                throw wrong();
            if (!second.ok)
                throw this.statusError(second, host, 'log in', '');
        });
    }
    // ---- plumbing ----
    /** One request with authentication: answers a 401 challenge once. No retry here. */
    async send(registry, method, pathOrUrl, options) {
        const host = this.endpoint(registry);
        const url = pathOrUrl.startsWith('/') ? `${this.baseUrl(host)}${pathOrUrl}` : pathOrUrl;
        const attempt = async () => {
            const headers = { ...options.headers };
            const authorization = await this.authorization(registry, options.scopes);
            if (authorization)
                headers.authorization = authorization;
            if (options.contentLength !== undefined)
                headers['content-length'] = String(options.contentLength);
            return this.fetchOnce(method, url, headers, options.body);
        };
        const known = this.challenges.has(host);
        let res = await attempt();
        if (res.status === 401) {
            const challenge = pickChallenge(res.headers.get('www-authenticate'));
            const previous = this.challenges.get(host);
            const changed = !known ||
                !previous ||
                !challenge ||
                previous.scheme !== challenge.scheme ||
                challenge.params.error === 'invalid_token';
            if (challenge && changed) {
                await drain(res);
                this.challenges.set(host, challenge);
                this.forgetTokens(host);
                res = await attempt();
            }
        }
        else if (!known && res.ok) {
            this.challenges.set(host, null);
        }
        return res;
    }
    forgetTokens(host) {
        for (const key of this.tokens.keys())
            if (key.startsWith(`${host} `))
                this.tokens.delete(key);
    }
    async authorization(registry, scopes) {
        const host = this.endpoint(registry);
        const challenge = this.challenges.get(host);
        if (!challenge)
            return undefined;
        const credentials = this.credentialsFor(registry);
        if (challenge.scheme === 'basic')
            return credentials ? basicAuthorization(credentials) : undefined;
        const key = `${host} ${scopes.join(' ')}`;
        const cached = this.tokens.get(key);
        if (cached && cached.expires > Date.now())
            return `Bearer ${cached.token}`;
        const url = tokenUrl(challenge, scopes, credentials?.username).toString();
        const res = await this.fetchOnce('GET', url, credentials ? { authorization: basicAuthorization(credentials) } : {});
        if (res.status === 401 || res.status === 403) {
            await drain(res);
            throw credentials
                ? new errors_UserError(`login to ${host} failed: wrong username or password`)
                : new errors_UserError(`registry ${host}: access denied (no credentials given for ${host})`);
        }
        if (!res.ok)
            throw this.statusError(res, host, 'get a token', '');
        const body = (await res.json());
        const token = body.token ?? body.access_token;
        if (!token)
            throw new Error(`registry ${host}: token response without a token`);
        // Renew a little early; the spec's default lifetime is 60 s.
        const lifetime = Math.max(30, body.expires_in ?? 60) * 1000;
        this.tokens.set(key, { token, expires: Date.now() + lifetime - 10_000 });
        return `Bearer ${token}`;
    }
    async fetchOnce(method, url, headers, body) {
        const controller = new AbortController();
        let timer;
        const arm = () => {
            if (timer)
                clearTimeout(timer);
            timer = setTimeout(() => controller.abort(new TimeoutError(`no answer within ${this.timeoutMs / 1000}s`)), this.timeoutMs);
        };
        arm();
        const init = {
            method,
            headers,
            signal: controller.signal,
            redirect: 'follow'
        };
        if (body) {
            const data = await body();
            if (data instanceof external_node_stream_namespaceObject.Readable) {
                init.body = progress(data, arm);
                init.duplex = 'half';
            }
            else {
                init.body = data;
            }
        }
        try {
            return await fetch(url, init);
        }
        catch (e) {
            const reason = controller.signal.reason;
            if (reason instanceof TimeoutError)
                throw new RetryableError(reason.message);
            throw networkError(e);
        }
        finally {
            if (timer)
                clearTimeout(timer);
        }
    }
    async expectOk(res, registry, what) {
        if (res.ok)
            return;
        const text = await res.text().catch(() => '');
        throw this.statusError(res, this.endpoint(registry), what, text);
    }
    statusError(res, host, what, body) {
        let detail = '';
        try {
            const parsed = JSON.parse(body);
            const first = parsed.errors?.[0];
            if (first)
                detail = `: ${[first.code, first.message].filter(Boolean).join(' ')}`;
        }
        catch {
            detail = '';
        }
        const message = `registry ${host}: cannot ${what}: HTTP ${res.status}${detail}`;
        if (res.status >= 500)
            return new RetryableError(message);
        if (res.status === 401 || res.status === 403) {
            const credentials = this.options.credentials?.(host);
            return new errors_UserError(`${message}${credentials ? '' : ` (no credentials given for ${host})`}`);
        }
        return new Error(message);
    }
    /** Runs fn, retrying connection errors, timeouts and 5xx with exponential backoff. */
    async retry(registry, fn) {
        const host = this.endpoint(registry);
        for (let attempt = 0;; attempt++) {
            try {
                return await fn();
            }
            catch (e) {
                if (!(e instanceof RetryableError))
                    throw e;
                if (attempt >= this.retries) {
                    throw new errors_UserError(`registry ${host}: ${e.message} (gave up after ${attempt + 1} attempts)`);
                }
                const delay = this.retryDelayMs * 2 ** attempt * (0.75 + Math.random() / 2);
                this.options.logger?.debug(`registry ${host}: ${e.message}; retrying in ${Math.round(delay)} ms`);
                await new Promise(resolve => setTimeout(resolve, delay));
            }
        }
    }
}
class TimeoutError extends Error {
}
/** fetch's "fetch failed" → the underlying reason, retryable (the request never got an answer). */
function networkError(e) {
    if (e instanceof errors_UserError || e instanceof RetryableError)
        return e;
    const cause = e.cause;
    const reason = cause?.code
        ? `cannot connect (${cause.code})`
        : cause?.message || e.message;
    return new RetryableError(reason);
}
/** Passes a stream through, calling onChunk for each chunk (to keep an idle timer alive). */
async function* progress(stream, onChunk) {
    for await (const chunk of stream) {
        onChunk();
        yield chunk;
    }
}
function headerOf(res, name) {
    const v = res.headers[name];
    return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}
async function readText(res) {
    const parts = [];
    for await (const part of res)
        parts.push(part);
    return Buffer.concat(parts).toString('utf8');
}
async function drain(res) {
    try {
        await res.body?.cancel();
    }
    catch {
        // already consumed
    }
}
async function readToken(res) {
    const body = (await res.json());
    const token = body.token ?? body.access_token;
    if (!token)
        throw new Error('token response without a token');
    return token;
}
function client_withDigest(location, digest) {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    return url.toString();
}
function sha256(data) {
    return `sha256:${(0,external_node_crypto_namespaceObject.createHash)('sha256').update(data).digest('hex')}`;
}

;// CONCATENATED MODULE: ./src/core/registry/copy.js


/**
 * Copies an image registry to registry: an index with every platform, or a single manifest.
 * Blobs are mounted when both sides are on the same registry, else streamed through (constant
 * memory). The manifests are pushed byte for byte, so the digest stays the source's.
 */
async function copyImage(client, from, to, options = {}) {
    const result = { digest: '', mediaType: '', uploaded: 0, mounted: 0, existing: 0 };
    const top = await client.getManifest(from);
    await copyTree(client, from, to, top, options, result);
    result.digest = await client.putManifest(to, top.bytes, top.mediaType);
    result.mediaType = top.mediaType;
    options.logger?.debug(`copied ${formatReference(from)} to ${formatReference(to)} (${result.digest}): ` +
        `${result.uploaded} uploaded, ${result.mounted} mounted, ${result.existing} present`);
    return result;
}
/** Copies everything a manifest references (children of an index, then their blobs). */
async function copyTree(client, from, to, manifest, options, result) {
    if (isIndexMediaType(manifest.mediaType)) {
        for (const child of manifest.json.manifests ?? []) {
            const fetched = await client.getManifest(withDigest(from, child.digest));
            await copyTree(client, from, to, fetched, options, result);
            await client.putManifest(withDigest(to, child.digest), fetched.bytes, fetched.mediaType);
        }
        return;
    }
    const blobs = [];
    if (manifest.json.config)
        blobs.push(manifest.json.config);
    // Foreign layers (with `urls`) are not in the registry; the manifest points elsewhere.
    for (const layer of manifest.json.layers ?? [])
        if (!layer.urls?.length)
            blobs.push(layer);
    await forEachLimit(blobs, options.concurrency ?? 3, async (blob) => {
        const how = await client.uploadBlob(to, blob, async () => (await client.getBlob(from, blob.digest)).stream, { mountFrom: from });
        result[how === 'exists' ? 'existing' : how]++;
    });
}
async function forEachLimit(items, limit, fn) {
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const item = items[next++];
            await fn(item);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

;// CONCATENATED MODULE: ./src/core/engine/registry-copy.js
// Image-service copies and login checks through our registry client (src/core/registry).




function registryTools(logins, dockerHubRegistry, logger) {
    const find = (host) => logins.find(l => l.host === host) ??
        (host === DOCKER_HUB || host === 'registry-1.docker.io'
            ? logins.find(l => l.host === DOCKER_HUB_AUTH_KEY)
            : undefined);
    const client = new RegistryClient({ credentials: find, dockerHubRegistry, logger });
    return {
        client,
        copyImage: async (from, to) => (await copyImage(client, parseReference(from), parseReference(to), { logger })).digest,
        checkLogin: login => client.checkLogin(login.host === DOCKER_HUB_AUTH_KEY ? client.endpoint(DOCKER_HUB) : login.host, login)
    };
}

;// CONCATENATED MODULE: ./src/core/engine/types.js
/** Environment name carrying a secret's value to the engine. */
function secretEnvName(id) {
    return `CONVOX_BUILD_SECRET_${id.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

;// CONCATENATED MODULE: ./src/core/engine/buildx.js

/** Quotes a CSV field for buildx/buildctl's `--output` parser when it holds commas. */
function csvField(s) {
    return s.includes(',') || s.includes('"') ? `"${s.replace(/"/g, '""')}"` : s;
}
function buildxEngine(builder, driver) {
    return {
        name: 'buildx',
        description: `buildx (builder ${builder || 'current'}, driver ${driver})`,
        driver,
        command: req => buildxCommand(req, builder)
    };
}
/** `docker buildx build ...` for one build. Secret values travel in env, never in args. */
function buildxCommand(req, builder) {
    const { spec } = req;
    const args = ['buildx', 'build'];
    if (builder)
        args.push('--builder', builder);
    args.push('--file', spec.dockerfilePath);
    const env = {};
    for (const [name, value] of Object.entries(spec.argValues)) {
        if (req.secretArgs.includes(name)) {
            // `--build-arg NAME` without a value: buildx takes it from its environment.
            args.push('--build-arg', name);
            env[name] = value;
        }
        else {
            args.push('--build-arg', `${name}=${value}`);
        }
    }
    if (spec.target)
        args.push('--target', spec.target);
    if (req.platforms.length > 0)
        args.push('--platform', req.platforms.join(','));
    for (const s of req.secrets) {
        const envName = secretEnvName(s.id);
        args.push('--secret', `id=${s.id},env=${envName}`);
        env[envName] = s.value;
    }
    if (req.noCache)
        args.push('--no-cache');
    for (const c of req.cache.imports)
        args.push('--cache-from', c);
    for (const c of req.cache.exports)
        args.push('--cache-to', c);
    // One manifest like the rack's (no attestation index).
    args.push('--provenance=false');
    switch (req.output.type) {
        case 'push':
            args.push('--output', `type=image,${csvField(`name=${req.tags.join(',')}`)},push=true`);
            break;
        case 'oci':
            args.push('--output', `type=oci,dest=${req.output.dest},${csvField(`name=${req.tags.join(',')}`)}`);
            break;
        case 'none':
            for (const t of req.tags)
                args.push('--tag', t);
            break;
    }
    args.push('--metadata-file', req.metadataFile, '--progress', 'rawjson', spec.contextPath);
    return { command: 'docker', args, env, exposed: [] };
}

;// CONCATENATED MODULE: ./src/core/engine/buildctl.js



function buildctlEngine(addr) {
    return {
        name: 'buildctl',
        description: `buildctl (${addr})`,
        driver: 'buildkit',
        command: req => buildctlCommand(req, addr)
    };
}
/**
 * `buildctl build ...` for one build, as the rack runs it plus our options. buildctl has no way
 * to read a build arg from its environment, so secret args are on its command line: they are
 * returned in `exposed` to be masked.
 */
function buildctlCommand(req, addr) {
    const { spec } = req;
    const args = ['--addr', addr, 'build', '--frontend', 'dockerfile.v0'];
    args.push('--local', `context=${spec.contextPath}`);
    args.push('--local', `dockerfile=${external_node_path_namespaceObject.dirname(spec.dockerfilePath)}`);
    args.push('--opt', `filename=${external_node_path_namespaceObject.basename(spec.dockerfilePath)}`);
    const exposed = [];
    for (const [name, value] of Object.entries(spec.argValues)) {
        args.push('--opt', `build-arg:${name}=${value}`);
        if (req.secretArgs.includes(name) && value)
            exposed.push(value);
    }
    if (spec.target)
        args.push('--opt', `target=${spec.target}`);
    if (req.platforms.length > 0)
        args.push('--opt', `platform=${req.platforms.join(',')}`);
    const env = {};
    for (const s of req.secrets) {
        const envName = secretEnvName(s.id);
        args.push('--secret', `id=${s.id},env=${envName}`);
        env[envName] = s.value;
    }
    if (req.noCache)
        args.push('--no-cache');
    for (const c of req.cache.imports)
        args.push('--import-cache', c);
    for (const c of req.cache.exports)
        args.push('--export-cache', c);
    switch (req.output.type) {
        case 'push':
            args.push('--output', `type=image,${csvField(`name=${req.tags.join(',')}`)},push=true`);
            break;
        case 'oci':
            args.push('--output', `type=oci,dest=${req.output.dest},${csvField(`name=${req.tags.join(',')}`)}`);
            break;
        case 'none':
            break;
    }
    args.push('--metadata-file', req.metadataFile, '--progress', 'rawjson');
    return { command: 'buildctl', args, env, exposed };
}

;// CONCATENATED MODULE: ./src/core/engine/select.js
// Picks the engine: buildx when it is installed and has a usable builder, else buildctl against
// buildkit-host, else a UserError that says what to install.




/** The `Driver:` of `docker buildx inspect` (it has no machine-readable format). */
function parseBuildxDriver(inspectOutput) {
    return /^Driver:\s*(\S+)/m.exec(inspectOutput)?.[1] ?? '';
}
async function probeBuildx(o) {
    const run = async (args) => {
        try {
            return await o.exec('docker', args, { env: o.env });
        }
        catch (e) {
            return { exitCode: 127, stdout: '', stderr: e.message };
        }
    };
    const version = await run(['buildx', 'version']);
    if (version.exitCode !== 0) {
        return { ok: false, why: `docker buildx is not usable: ${lastLines(version.stderr, 1)}` };
    }
    const inspect = await run(['buildx', 'inspect', ...(o.builder ? [o.builder] : [])]);
    if (inspect.exitCode !== 0) {
        const which = o.builder ? `builder "${o.builder}"` : 'the current builder';
        return { ok: false, why: `${which} is not usable: ${lastLines(inspect.stderr, 1)}` };
    }
    const driver = parseBuildxDriver(inspect.stdout) || 'unknown';
    return { ok: true, engine: buildxEngine(o.builder, driver) };
}
async function probeBuildctl(o) {
    const addr = o.buildkitHost;
    let result;
    try {
        result = await o.exec('buildctl', ['--addr', addr, 'debug', 'workers'], { env: o.env });
    }
    catch (e) {
        throw new errors_UserError({
            input: 'engine',
            message: `buildctl is not installed (${e.message}): install BuildKit's buildctl or use engine buildx`
        });
    }
    if (result.exitCode !== 0) {
        throw new errors_UserError({
            input: 'buildkit-host',
            message: `BuildKit at ${addr} is not reachable: ${lastLines(result.stderr || result.stdout, 1)}`
        });
    }
    return buildctlEngine(addr);
}
async function selectEngine(o) {
    if (o.engine === 'buildctl') {
        if (!o.buildkitHost) {
            throw new errors_UserError({
                input: 'buildkit-host',
                message: 'engine buildctl needs buildkit-host (or BUILDKIT_HOST), the BuildKit daemon address'
            });
        }
        return probeBuildctl(o);
    }
    const buildx = await probeBuildx(o);
    if (buildx.ok)
        return buildx.engine;
    if (o.engine === 'buildx')
        throw new errors_UserError({ input: 'engine', message: buildx.why });
    if (o.buildkitHost)
        return probeBuildctl(o);
    throw new errors_UserError({
        input: 'engine',
        message: `no BuildKit engine found: ${buildx.why}. Install Docker with buildx (docker/setup-buildx-action), or set buildkit-host to a BuildKit daemon for buildctl`
    });
}

;// CONCATENATED MODULE: ./src/core/engine/index.js
// The build step of the pipeline: private logins, engine choice, builds, cleanup.





async function buildPlan(plan, settings, run, options = {}) {
    const logins = loginsFromSettings(settings);
    const config = await createDockerConfig(logins, run);
    const tools = options.tools ?? registryTools(logins, settings.dockerHubRegistry, run.logger);
    const checkLogin = options.checkLogin ?? tools.checkLogin;
    try {
        // Before any build: a wrong password is one line naming the registry, not a failed push.
        await Promise.all(logins.map(l => checkLogin(l)));
        const engine = await selectEngine({
            engine: settings.engine,
            builder: settings.builder,
            buildkitHost: settings.buildkitHost,
            exec: run.exec,
            env: { ...run.env, ...config.env }
        });
        run.logger.info(`engine: ${engine.description}`);
        const result = await runBuilds({
            plan,
            engine,
            run,
            childEnv: config.env,
            cache: settings.cache,
            noCache: settings.noCache,
            push: settings.push,
            platforms: settings.platforms,
            secrets: settings.secrets,
            concurrency: settings.concurrency,
            copyImage: options.copyImage ?? tools.copyImage,
            ociArchives: options.ociArchives,
            signal: options.signal
        });
        return { ...result, engine };
    }
    finally {
        await config.cleanup();
    }
}

;// CONCATENATED MODULE: ./src/core/export/record.js

const BUILD_STATUSES = ['created', 'running', 'complete', 'failed'];
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';
/** Builds the record, checking ids and that no secret made its way into it. */
function buildRecord(input) {
    if (!/^B[A-Z]{10}$/.test(input.id))
        throw new Error(`invalid build id "${input.id}"`);
    const release = input.release ?? '';
    if (release !== '' && !/^R[A-Z]{10}$/.test(release)) {
        throw new Error(`invalid release id "${release}"`);
    }
    const status = input.status ?? 'complete';
    if (!BUILD_STATUSES.includes(status))
        throw new Error(`invalid build status "${status}"`);
    const record = {
        id: input.id,
        app: input.app,
        description: input.description ?? '',
        entrypoint: input.entrypoint ?? '',
        'git-sha': input.gitSha ?? '',
        logs: input.logs ?? '',
        manifest: input.manifest ?? '',
        process: input.process ?? '',
        release,
        reason: input.reason ?? '',
        repository: stripCredentials(input.repository ?? ''),
        status,
        started: formatGoTime(input.started),
        ended: input.ended ? formatGoTime(input.ended) : GO_ZERO_TIME
    };
    const text = JSON.stringify(record);
    for (const secret of input.secrets ?? []) {
        if (secret.length >= 3 && text.includes(secret)) {
            throw new errors_UserError('the build record would contain a secret value; refusing to write it');
        }
    }
    return record;
}
/** The record as the rack writes build.json: indented JSON with Go's HTML-safe escapes. */
function serializeRecord(record) {
    return goJsonEscape(JSON.stringify(record, null, 2));
}
/** Go's encoding/json escapes <, >, & and the JS line separators inside strings. */
function goJsonEscape(json) {
    return json
        .replace(/</g, '\\u003c')
        .replace(/>/g, '\\u003e')
        .replace(/&/g, '\\u0026')
        .replace(/\u2028/g, '\\u2028')
        .replace(/\u2029/g, '\\u2029');
}
/**
 * RFC 3339 with nanoseconds, as Go's time.Time marshals (RFC3339Nano): UTC as `Z`, fraction with
 * trailing zeros dropped, none when zero.
 */
function formatGoTime(time) {
    const { date, extraNanos = 0 } = time instanceof Date ? { date: time } : time;
    if (Number.isNaN(date.getTime()))
        throw new Error('invalid date');
    if (!Number.isInteger(extraNanos) || extraNanos < 0 || extraNanos > 999_999) {
        throw new Error(`invalid nanoseconds ${extraNanos}`);
    }
    const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    const nanos = date.getUTCMilliseconds() * 1_000_000 + extraNanos;
    const fraction = nanos === 0 ? '' : `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
    return `${iso.slice(0, 19)}${fraction}Z`;
}
/** Now, with the sub-millisecond nanoseconds the clock gives. */
function preciseNow() {
    const ns = process.hrtime.bigint();
    const date = new Date();
    return { date, extraNanos: Number(ns % 1000000n) };
}
/** `https://user:pass@host/path` or `user:pass@host/path` → without the credentials. */
function stripCredentials(repository) {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(repository);
    if (scheme) {
        try {
            const url = new URL(repository);
            url.username = '';
            url.password = '';
            return url.toString().replace(/\/$/, repository.endsWith('/') ? '/' : '');
        }
        catch {
            // not a URL after all: fall through
        }
    }
    const rest = scheme ? repository.slice(scheme[0].length) : repository;
    const slash = rest.indexOf('/');
    const at = rest.lastIndexOf('@', slash >= 0 ? slash : rest.length);
    if (at < 0)
        return repository;
    return (scheme ? scheme[0] : '') + rest.slice(at + 1);
}

;// CONCATENATED MODULE: external "node:stream/promises"
const external_node_stream_promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:stream/promises");
;// CONCATENATED MODULE: external "node:zlib"
const external_node_zlib_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:zlib");
// EXTERNAL MODULE: ../../node_modules/tar-stream/index.js
var tar_stream = __nccwpck_require__(6474);
;// CONCATENATED MODULE: ./src/core/registry/image-config.js


/** `linux/amd64`, `linux/arm64/v8` → parts. */
function parsePlatform(text) {
    const [os = '', architecture = '', variant] = text.split('/');
    return variant ? { os, architecture, variant } : { os, architecture };
}
/** Picks the manifest of a platform from an index, ignoring attestation manifests. */
function selectPlatform(index, platform = 'linux/amd64') {
    const want = parsePlatform(platform);
    const images = (index.manifests ?? []).filter(m => m.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest' &&
        m.platform?.os !== 'unknown');
    const matches = images.filter(m => m.platform?.os === want.os && m.platform?.architecture === want.architecture);
    return (matches.find(m => (m.platform?.variant ?? '') === (want.variant ?? '')) ??
        matches[0] ??
        (images.length === 1 ? images[0] : undefined));
}
/** Reads an image's config (for `platform` when the reference is an index). */
async function getImageConfig(client, ref, platform = 'linux/amd64') {
    const top = await client.getManifest(ref);
    let manifest = top;
    if (isIndexMediaType(top.mediaType)) {
        const chosen = selectPlatform(top.json, platform);
        if (!chosen)
            throw new Error(`image ${formatReference(ref)} has no ${platform} manifest`);
        manifest = await client.getManifest(withDigest(ref, chosen.digest));
    }
    const config = manifest.json.config;
    if (!config)
        throw new Error(`image ${formatReference(ref)}: manifest without a config`);
    const { stream } = await client.getBlob(ref, config.digest);
    const chunks = [];
    for await (const chunk of stream)
        chunks.push(chunk);
    const raw = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const inner = (raw.config ?? {});
    return {
        digest: top.digest,
        manifestDigest: manifest.digest,
        configDigest: config.digest,
        entrypoint: inner.Entrypoint ?? [],
        cmd: inner.Cmd ?? [],
        env: inner.Env ?? [],
        raw
    };
}
const SPECIAL = '\\\'"`${[|&;<>()*?!';
const QUOTE_TRIGGERS = ' \t\n';
/**
 * Joins words into one shell-quoted string, as the rack stores an image's entrypoint on the build
 * (go-shellquote's Join): special characters backslash-escaped, words with blanks single-quoted.
 */
function shellJoin(words) {
    return words.map(shellQuote).join(' ');
}
function shellQuote(word) {
    if (word === '')
        return "''";
    if ([...word].some(c => QUOTE_TRIGGERS.includes(c))) {
        // Single quotes; a quote inside closes the string, is escaped, and reopens it.
        return word
            .split("'")
            .map(part => (part === '' ? '' : `'${part}'`))
            .join("\\'");
    }
    let out = '';
    let first = true;
    for (const c of word) {
        if (SPECIAL.includes(c) || (first && c === '~'))
            out += `\\${c}`;
        else
            out += c;
        first = false;
    }
    return out;
}

;// CONCATENATED MODULE: ./src/core/export/oci-archive.js
// One OCI archive per service, the file `skopeo copy docker://... oci-archive:<file>` writes and
// the rack's import reads back with `skopeo copy oci-archive:<file> docker://...`.
//
// Multi-platform images: like the rack's own export (skopeo without --all), an archive holds ONE
// image: the manifest for `platform` (default linux/amd64, or the only platform there is). An
// index nested in index.json is only readable by recent skopeo versions, and the rack ignores a
// failed import, so we never write one.







const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const OCI_LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });
/** The manifest with docker v2 media types turned into OCI ones, as skopeo does for oci layouts. */
function toOciManifest(manifest) {
    const mt = manifest.mediaType ?? MediaType.ociManifest;
    if (mt === MediaType.ociManifest)
        return { json: manifest, converted: false };
    if (mt !== MediaType.dockerManifest)
        throw new Error(`cannot archive a manifest of type ${mt}`);
    const layerType = (t) => {
        switch (t) {
            case MediaType.dockerLayerGzip:
                return MediaType.ociLayerGzip;
            case MediaType.dockerForeignLayerGzip:
                return 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
            case 'application/vnd.docker.image.rootfs.diff.tar':
                return MediaType.ociLayer;
            default:
                return t;
        }
    };
    const config = manifest.config;
    if (!config)
        throw new Error('manifest without a config');
    const json = {
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { ...config, mediaType: MediaType.ociConfig },
        layers: (manifest.layers ?? []).map(l => ({ ...l, mediaType: layerType(l.mediaType) }))
    };
    if (manifest.annotations)
        json.annotations = manifest.annotations;
    return { json, converted: true };
}
function indexJson(manifest, refName) {
    return JSON.stringify({
        schemaVersion: 2,
        manifests: [
            {
                mediaType: MediaType.ociManifest,
                digest: manifest.digest,
                size: manifest.size,
                annotations: { [REF_NAME_ANNOTATION]: refName }
            }
        ]
    });
}
/** Writes the layout's fixed entries; blobs go in with addBlob. */
class LayoutWriter {
    pack = tar_stream.pack();
    written = new Set();
    blobBytes = 0;
    async start(index) {
        await this.add('oci-layout', Buffer.from(OCI_LAYOUT));
        await this.add('index.json', Buffer.from(index));
        this.pack.entry({ name: 'blobs/', type: 'directory', mode: 0o755 });
        this.pack.entry({ name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
    }
    has(digest) {
        return this.written.has(digest);
    }
    async add(name, data) {
        await new Promise((resolve, reject) => this.pack.entry({ name, size: data.length, mode: 0o644 }, data, err => err ? reject(err) : resolve()));
    }
    async addBlobBytes(digest, data) {
        if (this.written.has(digest))
            return;
        if (sha256(data) !== digest)
            throw new Error(`blob ${digest}: content does not match`);
        this.written.add(digest);
        this.blobBytes += data.length;
        await this.add(blobPath(digest), data);
    }
    /** Streams a blob into the archive, checking its size and digest on the way. */
    async addBlobStream(digest, size, source) {
        if (this.written.has(digest)) {
            source.destroy();
            return;
        }
        this.written.add(digest);
        let entry;
        const done = new Promise((resolve, reject) => {
            entry = this.pack.entry({ name: blobPath(digest), size, mode: 0o644 }, err => err ? reject(err) : resolve());
        });
        const hash = (0,external_node_crypto_namespaceObject.createHash)('sha256');
        let seen = 0;
        for await (const chunk of source) {
            const buf = chunk;
            hash.update(buf);
            seen += buf.length;
            if (seen > size)
                throw new Error(`blob ${digest}: longer than ${size} bytes`);
            if (!entry.write(buf))
                await new Promise(resolve => entry.once('drain', resolve));
        }
        if (seen !== size)
            throw new Error(`blob ${digest}: ${seen} bytes instead of ${size}`);
        if (`sha256:${hash.digest('hex')}` !== digest) {
            throw new Error(`blob ${digest}: content does not match its digest`);
        }
        entry.end();
        await done;
        this.blobBytes += size;
    }
}
function blobPath(digest) {
    const [algorithm, hex] = digest.split(':');
    if (algorithm !== 'sha256' || !hex || !/^[0-9a-f]{64}$/.test(hex)) {
        throw new Error(`unsupported digest ${digest}`);
    }
    return `blobs/sha256/${hex}`;
}
/** Runs `produce` while the archive streams to `file`; fails if either side fails. */
async function writeTo(file, produce) {
    const writer = new LayoutWriter();
    const sink = (0,external_node_stream_promises_namespaceObject.pipeline)(writer.pack, (0,external_node_fs_namespaceObject.createWriteStream)(file, { mode: 0o644 }));
    try {
        await produce(writer);
        writer.pack.finalize();
    }
    catch (e) {
        writer.pack.destroy(e);
        await sink.catch(() => undefined);
        throw e;
    }
    await sink;
    return writer;
}
/**
 * Writes an OCI archive of a registry image, streaming every blob from the registry straight into
 * the tar: memory stays flat whatever the image's size.
 */
async function writeArchiveFromRegistry(client, ref, file, options) {
    const top = await client.getManifest(ref);
    let source = top;
    if (isIndexMediaType(top.mediaType)) {
        const platform = options.platform ?? 'linux/amd64';
        const chosen = selectPlatform(top.json, platform);
        if (!chosen)
            throw new Error(`image ${formatReference(ref)} has no ${platform} image`);
        source = await client.getManifest(withDigest(ref, chosen.digest));
    }
    const { json, converted } = toOciManifest({ ...source.json, mediaType: source.mediaType });
    const bytes = converted ? Buffer.from(JSON.stringify(json)) : source.bytes;
    const manifest = {
        mediaType: MediaType.ociManifest,
        digest: converted ? sha256(bytes) : source.digest,
        size: bytes.length
    };
    const config = json.config;
    const writer = await writeTo(file, async (w) => {
        await w.start(indexJson(manifest, options.refName));
        await w.addBlobBytes(manifest.digest, bytes);
        for (const blob of [config, ...(json.layers ?? []).filter(l => !l.urls?.length)]) {
            if (w.has(blob.digest))
                continue;
            const { stream } = await client.getBlob(ref, blob.digest);
            await w.addBlobStream(blob.digest, blob.size, stream);
        }
    });
    return {
        manifestDigest: manifest.digest,
        configDigest: config.digest,
        blobBytes: writer.blobBytes
    };
}
const SMALL_BLOB = 4 * 1024 * 1024;
/**
 * Re-packs the OCI tar BuildKit wrote (`--output type=oci,dest=...`) into an archive skopeo reads:
 * one image (the platform's), named with the ref.name annotation. Two streaming passes over the
 * file: the first reads index.json and the small JSON blobs, the second copies the blobs needed.
 */
async function repackOciArchive(sourceTar, file, options) {
    let index;
    const small = new Map();
    const sizes = new Map();
    await readTar(sourceTar, async (name, size, stream) => {
        if (name === 'index.json')
            index = JSON.parse((await readAll(stream)).toString('utf8'));
        else if (name.startsWith('blobs/sha256/')) {
            const digest = `sha256:${name.slice('blobs/sha256/'.length)}`;
            sizes.set(digest, size);
            if (size <= SMALL_BLOB)
                small.set(digest, await readAll(stream));
        }
    });
    if (!index)
        throw new Error(`${sourceTar}: not an OCI layout (no index.json)`);
    const json = (digest) => {
        const data = small.get(digest);
        if (!data)
            throw new Error(`${sourceTar}: blob ${digest} is missing`);
        return JSON.parse(data.toString('utf8'));
    };
    // Walk down nested indexes to the platform's image manifest.
    let current = index;
    let chosen;
    for (let depth = 0; depth < 4; depth++) {
        const candidates = current.manifests ?? [];
        const pick = candidates.length === 1
            ? candidates[0]
            : selectPlatform(current, options.platform ?? 'linux/amd64');
        if (!pick)
            throw new Error(`${sourceTar}: no ${options.platform ?? 'linux/amd64'} image in it`);
        if (isIndexMediaType(pick.mediaType)) {
            current = json(pick.digest);
            continue;
        }
        chosen = pick;
        break;
    }
    if (!chosen)
        throw new Error(`${sourceTar}: indexes nested too deep`);
    const original = json(chosen.digest);
    const { json: manifestJson, converted } = toOciManifest({
        ...original,
        mediaType: original.mediaType ?? chosen.mediaType
    });
    const bytes = converted
        ? Buffer.from(JSON.stringify(manifestJson))
        : small.get(chosen.digest);
    const manifest = {
        mediaType: MediaType.ociManifest,
        digest: sha256(bytes),
        size: bytes.length
    };
    const config = manifestJson.config;
    const needed = new Set([config.digest, ...(manifestJson.layers ?? []).map(l => l.digest)]);
    for (const digest of needed) {
        if (!sizes.has(digest))
            throw new Error(`${sourceTar}: blob ${digest} is missing`);
    }
    const writer = await writeTo(file, async (w) => {
        await w.start(indexJson(manifest, options.refName));
        await w.addBlobBytes(manifest.digest, bytes);
        await readTar(sourceTar, async (name, size, stream) => {
            const digest = `sha256:${name.slice('blobs/sha256/'.length)}`;
            if (name.startsWith('blobs/sha256/') && needed.has(digest)) {
                await w.addBlobStream(digest, size, stream);
            }
        });
    });
    return {
        manifestDigest: manifest.digest,
        configDigest: config.digest,
        blobBytes: writer.blobBytes
    };
}
/** Calls onEntry for each regular file of a tar (streamed; unread content is skipped). */
async function readTar(file, onEntry) {
    const extract = tar_stream.extract();
    const input = (0,external_node_fs_namespaceObject.createReadStream)(file);
    const feeding = (0,external_node_stream_promises_namespaceObject.pipeline)(input, extract).catch(e => {
        extract.destroy(e);
    });
    for await (const entry of extract) {
        const name = entry.header.name.replace(/^\.\//, '');
        if (entry.header.type === 'file') {
            await onEntry(name, entry.header.size ?? 0, entry);
        }
        entry.resume();
    }
    await feeding;
}
async function readAll(stream) {
    const parts = [];
    for await (const part of stream)
        parts.push(part);
    return Buffer.concat(parts);
}

;// CONCATENATED MODULE: ./src/core/export/tarball.js
// The `convox builds import` tarball: gzip'd tar of build.json and one OCI archive per service
// (`<service>.<BUILD_ID>.tar`), flat at the top level as the rack writes and reads it.









/** Archive name of a service in the export. */
function archiveName(service, buildId) {
    return `${service}.${buildId}.tar`;
}
/**
 * Writes the export tarball: each service's archive to a temporary file first (streamed), then
 * build.json and the archives streamed into the .tgz. Returns the absolute path.
 */
async function writeExport(file, record, services, options = {}) {
    const target = external_node_path_namespaceObject.resolve(file);
    const names = new Set();
    for (const s of services) {
        if (!/^[a-z0-9][a-z0-9-]*$/i.test(s.service))
            throw new Error(`invalid service name "${s.service}"`);
        if (names.has(s.service))
            throw new Error(`service ${s.service} given twice`);
        names.add(s.service);
    }
    const base = options.tempDir ?? (0,external_node_os_namespaceObject.tmpdir)();
    await (0,promises_namespaceObject.mkdir)(base, { recursive: true });
    const temp = await (0,promises_namespaceObject.mkdtemp)(external_node_path_namespaceObject.join(base, 'convox-export-'));
    try {
        const archives = {};
        const files = [];
        for (const source of services) {
            const name = archiveName(source.service, record.id);
            const out = external_node_path_namespaceObject.join(temp, name);
            const tag = name.slice(0, -'.tar'.length);
            const archiveOptions = { refName: tag, platform: options.platform };
            archives[source.service] =
                'ociTar' in source
                    ? await repackOciArchive(source.ociTar, out, archiveOptions)
                    : await writeArchiveFromRegistry(source.client, source.image, out, archiveOptions);
            files.push(out);
        }
        await (0,promises_namespaceObject.mkdir)(external_node_path_namespaceObject.dirname(target), { recursive: true });
        const pack = tar_stream.pack();
        const gzip = (0,external_node_zlib_namespaceObject.createGzip)({ level: options.gzipLevel ?? external_node_zlib_namespaceObject.constants.Z_BEST_SPEED });
        const sink = (0,external_node_stream_promises_namespaceObject.pipeline)(pack, gzip, (0,external_node_fs_namespaceObject.createWriteStream)(target));
        try {
            const json = Buffer.from(serializeRecord(record));
            await new Promise((resolve, reject) => pack.entry({ name: 'build.json', size: json.length, mode: 0o600 }, json, e => e ? reject(e) : resolve()));
            for (const f of files) {
                const { size } = await (0,promises_namespaceObject.stat)(f);
                await new Promise((resolve, reject) => {
                    const entry = pack.entry({ name: external_node_path_namespaceObject.basename(f), size, mode: 0o644 }, e => e ? reject(e) : resolve());
                    (0,external_node_stream_promises_namespaceObject.pipeline)((0,external_node_fs_namespaceObject.createReadStream)(f), entry).catch(reject);
                });
            }
            pack.finalize();
        }
        catch (e) {
            pack.destroy(e);
            await sink.catch(() => undefined);
            throw e;
        }
        await sink;
        return { path: target, archives };
    }
    finally {
        await (0,promises_namespaceObject.rm)(temp, { recursive: true, force: true });
    }
}
/**
 * Reads an export tarball: build.json parsed, the entry list, and (with `extractTo`) each
 * `.tar` archive written to that directory.
 */
async function readExport(file, options = {}) {
    const extract = tar.extract();
    const feeding = pipeline(createReadStream(file), createGunzip(), extract).catch(e => extract.destroy(e));
    let record;
    const entries = [];
    const archives = {};
    if (options.extractTo)
        await mkdir(options.extractTo, { recursive: true });
    for await (const entry of extract) {
        const { name, size = 0, type } = entry.header;
        if (type === 'file') {
            entries.push({ name, size });
            if (name === 'build.json') {
                const parts = [];
                for await (const part of entry)
                    parts.push(part);
                record = JSON.parse(Buffer.concat(parts).toString('utf8'));
            }
            else if (name.endsWith('.tar') && options.extractTo && !name.includes('/')) {
                const out = path.join(options.extractTo, name);
                await pipeline(entry, createWriteStream(out));
                archives[name.split('.')[0]] = out;
            }
        }
        entry.resume();
    }
    await feeding;
    if (!record)
        throw new Error(`${file}: no build.json in it`);
    return { record, entries, archives };
}

;// CONCATENATED MODULE: external "node:timers/promises"
const external_node_timers_promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:timers/promises");
;// CONCATENATED MODULE: ./src/core/rack/time.js
// The rack's time encodings (convox/stdsdk options.go, convox/stdapi options.go): params use the
// sortable layout `20060102.150405.000000000` in UTC; JSON bodies use Go's RFC 3339 with nanoseconds.
/** Go's zero time as the rack's JSON renders it: an unset `started` / `ended`. */
const ZERO_TIME = '0001-01-01T00:00:00Z';
/** `20060102.150405.000000000` (UTC), the layout of time params. */
function formatRackTime(date) {
    const p = (n, w = 2) => String(n).padStart(w, '0');
    return (`${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}.` +
        `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}.` +
        `${p(date.getUTCMilliseconds(), 3)}000000`);
}
const SORTABLE = /^(\d{4})(\d{2})(\d{2})\.(\d{2})(\d{2})(\d{2})\.(\d{9})$/;
/** Parses the sortable layout; undefined when the text is not in it. */
function parseRackTime(text) {
    const m = SORTABLE.exec(text);
    if (!m)
        return undefined;
    const [y, mo, d, h, mi, s, frac] = m.slice(1).map(Number);
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, Math.floor(frac / 1_000_000)));
    // Date.UTC rolls over invalid fields (month 13); the rack rejects them.
    return formatRackTime(date).slice(0, 15) === text.slice(0, 15) ? date : undefined;
}
/** Go's `time.Time` JSON (RFC 3339, nanoseconds, trailing zeros trimmed) for a Date. */
function formatJsonTime(date) {
    if (!date)
        return ZERO_TIME;
    return date.toISOString().replace(/\.?0+Z$/, 'Z');
}
/** Either encoding to a Date; undefined for the zero time or text in neither. */
function parseAnyTime(text) {
    if (!text || text.startsWith('0001-01-01'))
        return undefined;
    const sortable = parseRackTime(text);
    if (sortable)
        return sortable;
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? undefined : d;
}

;// CONCATENATED MODULE: ./src/core/rack/client.js
// A client of the Convox rack API, following the CLI's own client: convox/convox sdk/sdk.go
// (headers, Basic auth, Console `Rack` header), sdk/methods.go (paths and params) and
// convox/stdsdk client.go / options.go (form encoding, raw bodies, error bodies).






const DEFAULT_CONVOX_HOST = 'console.convox.com';
/** A rack answer with status >= 400 (after retries), as one line: `rack <host>: <call>: <status> <error>`. */
class RackError extends Error {
    status;
    rackMessage;
    constructor(message, status, rackMessage) {
        super(message);
        this.status = status;
        this.rackMessage = rackMessage;
        this.name = 'RackError';
    }
}
/** 401 / 403: the credentials are wrong; a mistake the user fixes. */
class RackAuthError extends errors_UserError {
    status;
    constructor(message, status) {
        super(message);
        this.status = status;
        this.name = 'RackAuthError';
    }
}
/** Where the rack client talks to, from the settings; undefined when no rack is configured. */
function rackClientOptions(settings) {
    if (settings.rackUrl)
        return { rackUrl: settings.rackUrl };
    if (settings.convoxPassword) {
        return {
            convoxHost: settings.convoxHost,
            convoxPassword: settings.convoxPassword,
            rack: settings.rack
        };
    }
    return undefined;
}
class RackClient {
    mode;
    /** The API base without credentials. */
    endpoint;
    /** host[:port], used in messages. */
    host;
    /** Console mode's `<org>/<rack>`; '' in direct mode. */
    rack;
    username;
    password;
    secrets = new Set();
    options;
    constructor(options) {
        this.options = options;
        if (options.rackUrl) {
            this.mode = 'direct';
            let u;
            try {
                u = new URL(options.rackUrl);
            }
            catch {
                // never echo the value: it holds the password
                throw new errors_UserError({
                    input: 'rack-url',
                    message: 'is not a URL like https://convox:<password>@api.<domain>'
                });
            }
            if (u.protocol !== 'https:' && u.protocol !== 'http:') {
                throw new errors_UserError({ input: 'rack-url', message: 'must start with https://' });
            }
            this.username = decodeURIComponent(u.username);
            this.password = decodeURIComponent(u.password);
            this.rack = '';
            this.addSecret(u.password);
            u.username = '';
            u.password = '';
            this.endpoint = u;
        }
        else if (options.convoxPassword) {
            this.mode = 'console';
            const rack = (options.rack ?? '').trim();
            if (!/^[^/\s]+\/[^/\s]+$/.test(rack)) {
                throw new errors_UserError({
                    input: 'rack',
                    message: `Console mode (convox-password) needs the rack as <org>/<rack>, got "${rack}"`
                });
            }
            const host = (options.convoxHost ?? '').trim() || DEFAULT_CONVOX_HOST;
            let u;
            try {
                u = new URL(/^[a-z]+:\/\//i.test(host) ? host : `https://${host}`);
            }
            catch {
                throw new errors_UserError({ input: 'convox-host', message: `"${host}" is not a host name` });
            }
            u.username = '';
            u.password = '';
            this.endpoint = u;
            // pkg/rack/console.go consoleClient: https://convox:<key>@<host>, Rack header = <org>/<rack>
            this.username = 'convox';
            this.password = options.convoxPassword;
            this.rack = rack;
        }
        else {
            throw new errors_UserError({
                input: 'rack-url',
                message: 'no rack credentials: set rack-url (or RACK_URL), or convox-password and rack'
            });
        }
        this.addSecret(this.password);
        if (this.username || this.password) {
            this.addSecret(Buffer.from(`${this.username}:${this.password}`).toString('base64'));
        }
        this.endpoint.pathname = this.endpoint.pathname.replace(/\/+$/, '');
        this.endpoint.search = '';
        this.endpoint.hash = '';
        this.host = this.endpoint.host;
    }
    /** The rack password (direct) or deploy key (Console): for pushing through the rack's /v2/ proxy. */
    get credentials() {
        return { username: this.username, password: this.password };
    }
    /** Masks a secret (and its URL-encoded form) and hides it from every later error message. */
    addSecret(secret) {
        for (const s of [secret, safeDecode(secret), encodeURIComponent(secret)]) {
            if (!s || this.secrets.has(s))
                continue;
            this.secrets.add(s);
            this.options.mask?.(s);
        }
    }
    /** Replaces every known secret in text with `***`. */
    scrub(text) {
        let out = text;
        for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) {
            if (s.length >= 3)
                out = out.split(s).join('***');
        }
        return out;
    }
    // --- typed calls (sdk/methods.go) ---
    systemGet() {
        return this.json('GET', '/system');
    }
    appGet(app) {
        return this.json('GET', `/apps/${seg(app)}`);
    }
    async buildCreate(app, params) {
        const b = await this.json('POST', `/apps/${seg(app)}/builds`, {
            params: { url: '', ...params }
        });
        this.maskRepository(b);
        return b;
    }
    async buildGet(app, id) {
        const b = await this.json('GET', `/apps/${seg(app)}/builds/${seg(id)}`);
        this.maskRepository(b);
        return b;
    }
    buildList(app, limit) {
        return this.json('GET', `/apps/${seg(app)}/builds`, { query: { limit } });
    }
    buildUpdate(app, id, params) {
        return this.json('PUT', `/apps/${seg(app)}/builds/${seg(id)}`, { params });
    }
    /** POSTs the tarball, streamed from the file (never read whole into memory). */
    async buildImport(app, file) {
        try {
            const s = await (0,promises_namespaceObject.stat)(file);
            if (!s.isFile())
                throw new Error('not a file');
        }
        catch {
            throw new errors_UserError({ input: 'import', message: `cannot read the tarball ${file}` });
        }
        return this.json('POST', `/apps/${seg(app)}/builds/import`, {
            body: () => (0,external_node_fs_namespaceObject.createReadStream)(file),
            timeoutMs: false
        });
    }
    objectStore(app, key, data, options = {}) {
        const headers = options.public === undefined ? {} : { Public: String(options.public) };
        return this.json('POST', `/apps/${seg(app)}/objects/${key.split('/').map(seg).join('/')}`, {
            body: data,
            headers
        });
    }
    async objectFetch(app, key) {
        const res = await this.request('GET', `/apps/${seg(app)}/objects/${key.split('/').map(seg).join('/')}`);
        return Buffer.from(await res.arrayBuffer());
    }
    releaseCreate(app, params) {
        return this.json('POST', `/apps/${seg(app)}/releases`, { params });
    }
    releaseGet(app, id) {
        return this.json('GET', `/apps/${seg(app)}/releases/${seg(id)}`);
    }
    releaseList(app, limit) {
        return this.json('GET', `/apps/${seg(app)}/releases`, { query: { limit } });
    }
    /** The rack answers `ok`. */
    async releasePromote(app, id, params = {}) {
        const res = await this.request('POST', `/apps/${seg(app)}/releases/${seg(id)}/promote`, {
            params
        });
        await res.arrayBuffer();
    }
    // --- transport ---
    async json(method, path, options = {}) {
        const res = await this.request(method, path, options);
        const text = await res.text();
        try {
            return JSON.parse(text);
        }
        catch {
            throw new RackError(this.scrub(`rack ${this.host}: ${method} ${path}: invalid JSON answer: ${oneLine(text)}`), res.status, oneLine(text));
        }
    }
    /** One call with retries; resolves to a 2xx/3xx response, else throws RackError / RackAuthError. */
    async request(method, path, options = {}) {
        const retries = this.options.retries ?? 5;
        const base = this.options.retryDelayMs ?? 500;
        const max = this.options.maxRetryDelayMs ?? 10_000;
        const call = `${method} ${path}`;
        for (let attempt = 0;; attempt++) {
            let res;
            let failure;
            try {
                res = await this.send(method, path, options);
            }
            catch (e) {
                failure = this.scrub(connectionError(e));
                if (attempt >= retries) {
                    throw new RackError(`rack ${this.host}: ${call}: ${failure}`, 0, failure);
                }
            }
            if (res) {
                if (res.status < 400)
                    return res;
                const message = this.scrub(await errorMessage(res));
                const retryable = res.status >= 500 || res.status === 409;
                if (!retryable || attempt >= retries) {
                    if (res.status === 401 || res.status === 403) {
                        throw new RackAuthError(`rack ${this.host}: ${res.status} ${message || 'unauthorized'}${this.authHint(res)}`, res.status);
                    }
                    throw new RackError(`rack ${this.host}: ${call}: ${res.status} ${message}`.trimEnd(), res.status, message);
                }
                failure = `${res.status} ${message}`.trimEnd();
            }
            const delay = Math.min(max, base * 2 ** attempt) * (0.8 + Math.random() * 0.4);
            this.options.logger?.info(`rack ${this.host}: ${call}: ${failure}; retrying in ${(delay / 1000).toFixed(1)}s (${attempt + 1}/${retries})`);
            await (0,external_node_timers_promises_namespaceObject.setTimeout)(delay);
        }
    }
    async send(method, path, options) {
        const url = new URL(this.endpoint.href);
        url.pathname = `${this.endpoint.pathname.replace(/\/+$/, '')}${path}`;
        const query = encodeParams(options.query ?? {});
        url.search = query.toString();
        const headers = {
            // JSON error bodies (pkg/api error rendering answers JSON to clients that accept it)
            Accept: 'application/json',
            'User-Agent': this.options.userAgent ?? 'convox-build'
        };
        if (this.username || this.password) {
            headers.Authorization = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
        }
        if (this.rack)
            headers.Rack = this.rack;
        let body;
        let duplex;
        if (options.body !== undefined) {
            headers['Content-Type'] = 'application/octet-stream';
            const b = options.body;
            if (typeof b === 'function') {
                body = external_node_stream_namespaceObject.Readable.toWeb(b());
                duplex = 'half';
            }
            else {
                body = typeof b === 'string' ? b : new Uint8Array(b);
            }
        }
        else if (options.params) {
            headers['Content-Type'] = 'application/x-www-form-urlencoded';
            body = encodeParams(options.params).toString();
        }
        Object.assign(headers, options.headers);
        const timeout = options.timeoutMs ?? this.options.timeoutMs ?? 300_000;
        this.options.logger?.debug(`rack ${this.host}: ${method} ${path}`);
        const init = {
            method,
            headers,
            body,
            redirect: 'manual',
            signal: timeout === false ? undefined : AbortSignal.timeout(timeout)
        };
        if (duplex)
            init.duplex = duplex;
        return fetch(url, init);
    }
    authHint(res) {
        // Console asks interactive users for a session (pkg/console/auth.go); CI needs a deploy key.
        if (/^Session /.test(res.headers.get('www-authenticate') ?? '')) {
            return ' (Console wants an interactive session: use a deploy key as convox-password)';
        }
        return '';
    }
    /** BuildCreate with external=true returns a push target holding the rack password. */
    maskRepository(b) {
        if (!b?.repository)
            return;
        try {
            const u = new URL(b.repository);
            if (u.password)
                this.addSecret(u.password);
        }
        catch {
            // not a URL: nothing embedded to mask
        }
    }
}
/** The push target of a repository URL: `host/path` without scheme and credentials. */
function repositoryTarget(repository) {
    let u;
    try {
        u = new URL(repository);
    }
    catch {
        // already host/path
        return { repository, host: repository.split('/')[0] ?? '', username: '', password: '' };
    }
    return {
        repository: `${u.host}${u.pathname.replace(/\/+$/, '')}`,
        host: u.host,
        username: safeDecode(u.username),
        password: safeDecode(u.password)
    };
}
/** stdsdk marshalValue: bool true|false, times in the sortable layout, lists comma-joined. */
function encodeParams(params) {
    const out = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
        if (v === undefined)
            continue;
        if (v instanceof Date)
            out.set(k, formatRackTime(v));
        else if (Array.isArray(v))
            out.set(k, v.join(','));
        else
            out.set(k, String(v));
    }
    return out;
}
function seg(s) {
    return encodeURIComponent(s);
}
function safeDecode(s) {
    try {
        return decodeURIComponent(s);
    }
    catch {
        return s;
    }
}
function oneLine(text) {
    return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
/** stdsdk responseError: `{"error": "..."}`, else the trimmed body, else the status. */
async function errorMessage(res) {
    let text = '';
    try {
        text = await res.text();
    }
    catch {
        // body lost: the status alone will do
    }
    try {
        const j = JSON.parse(text);
        if (typeof j.error === 'string' && j.error)
            return oneLine(j.error);
    }
    catch {
        // not JSON
    }
    return oneLine(text);
}
function connectionError(e) {
    if (e instanceof Error) {
        if (e.name === 'TimeoutError')
            return 'request timed out';
        const cause = e.cause;
        if (cause?.code)
            return `connection failed: ${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
        if (cause?.message)
            return `connection failed: ${cause.message}`;
        return `connection failed: ${e.message}`;
    }
    return `connection failed: ${String(e)}`;
}

;// CONCATENATED MODULE: ./src/core/rack/external-build.js

async function runExternalBuild(client, options, build) {
    const { app, logger } = options;
    const system = await client.systemGet();
    const created = await client.buildCreate(app, {
        external: true,
        description: options.description,
        'git-sha': options.gitSha,
        manifest: options.manifest ?? 'convox.yml',
        development: options.development,
        'no-cache': options.noCache
    });
    const buildId = created.id;
    logger.info(`rack ${client.host}: build ${buildId} created on rack ${system.name}`);
    const target = repositoryTarget(created.repository);
    let log = '';
    const append = (text) => {
        log += text.endsWith('\n') || text === '' ? text : `${text}\n`;
    };
    try {
        // The rack's own builds are `running` while they build (provider/k8s/build.go BuildCreate).
        await client.buildUpdate(app, buildId, { manifest: options.manifestText, status: 'running' });
        const out = await build({
            buildId,
            rackName: system.name,
            repository: target.repository,
            credentials: { registry: target.host, username: target.username, password: target.password },
            build: created,
            log: append
        });
        if (out.logs)
            append(out.logs);
        const logs = await client.objectStore(app, `build/${buildId}/logs`, client.scrub(log));
        // exactly one release (the CLI's buildExternal makes a second one by mistake)
        const release = await client.releaseCreate(app, { build: buildId });
        const entrypoint = Array.isArray(out.entrypoint)
            ? external_build_shellJoin(out.entrypoint)
            : (out.entrypoint ?? '');
        const done = await client.buildUpdate(app, buildId, {
            logs: logs.Url,
            release: release.id,
            status: 'complete',
            ended: new Date(),
            entrypoint: entrypoint || undefined
        });
        logger.info(`rack ${client.host}: build ${buildId} complete, release ${release.id}`);
        return {
            buildId,
            releaseId: release.id,
            repository: target.repository,
            rackName: system.name,
            images: out.images ?? {},
            build: done
        };
    }
    catch (e) {
        const reason = client.scrub(external_build_oneLine(e instanceof Error ? e.message : String(e)));
        await markFailed(client, app, buildId, reason, log, logger);
        throw e;
    }
}
/** pkg/build/build.go fail: the log ends with `ERROR: <reason>`, is stored, the build is failed. */
async function markFailed(client, app, buildId, reason, log, logger) {
    const text = client.scrub(`${log}${log && !log.endsWith('\n') ? '\n' : ''}ERROR: ${reason}\n`);
    let logsUrl;
    try {
        logsUrl = (await client.objectStore(app, `build/${buildId}/logs`, text)).Url;
    }
    catch (e) {
        logger.warning(`rack ${client.host}: could not store the log of failed build ${buildId}: ${msg(e)}`);
    }
    try {
        await client.buildUpdate(app, buildId, {
            status: 'failed',
            reason,
            ended: new Date(),
            logs: logsUrl
        });
        logger.info(`rack ${client.host}: build ${buildId} marked failed`);
    }
    catch (e) {
        logger.warning(`rack ${client.host}: could not mark build ${buildId} failed: ${msg(e)}`);
    }
}
/** sh-quotes and joins words: splits back like the rack's go-shellquote Join of an entrypoint. */
function external_build_shellJoin(words) {
    return words
        .map(w => {
        if (w === '')
            return "''";
        if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w))
            return w;
        return `'${w.replace(/'/g, `'\\''`)}'`;
    })
        .join(' ');
}
function external_build_oneLine(text) {
    const lines = text
        .split('\n')
        .map(l => l.trim())
        .filter(Boolean);
    return (lines.join(' | ') || 'build failed').slice(0, 1000);
}
function msg(e) {
    return e instanceof Error ? e.message : String(e);
}

;// CONCATENATED MODULE: ./src/core/rack/import.js
// `convox builds import` over the API (pkg/cli/builds.go BuildsImport, sdk BuildImport), then a
// check of what the rack made: provider/k8s/build.go BuildImport ignores failed pushes and marks the
// new build complete anyway, so status, release and every image are verified here.





/** Lists a tarball's services and build.json without unpacking the archives. */
async function readTarballIndex(file) {
    const services = new Set();
    let build;
    const extract = tar_stream.extract();
    extract.on('entry', (header, stream, next) => {
        const name = header.name.replace(/^\.\//, '');
        if (header.type === 'file' && name === 'build.json') {
            const chunks = [];
            stream.on('data', (c) => void chunks.push(c));
            stream.on('end', () => {
                try {
                    build = JSON.parse(Buffer.concat(chunks).toString('utf8'));
                }
                catch {
                    build = undefined;
                }
                next();
            });
            return;
        }
        if (header.type === 'file' && name.endsWith('.tar')) {
            const svc = (name.split('/').pop() ?? name).split('.')[0];
            if (svc)
                services.add(svc);
        }
        stream.on('end', () => next());
        stream.resume();
    });
    try {
        await (0,external_node_stream_promises_namespaceObject.pipeline)((0,external_node_fs_namespaceObject.createReadStream)(file), (0,external_node_zlib_namespaceObject.createGunzip)(), extract);
    }
    catch (e) {
        throw new errors_UserError({
            input: 'import',
            message: `${file} is not a convox builds export tarball: ${e instanceof Error ? e.message : String(e)}`
        });
    }
    return { services: [...services].sort(), build };
}
/** Where a rack keeps an app's images, as seen through its API's /v2/ registry proxy. */
function rackRepository(client, system, app) {
    // provider/*/repository.go RepositoryPrefix: `<rack>/` on aws, '' elsewhere
    const prefix = system.provider === 'aws' ? `${system.name}/` : '';
    const host = client.mode === 'direct'
        ? `${client.host}${client.endpoint.pathname.replace(/\/+$/, '')}`
        : (system['rack-domain'] ?? `api.${system.domain.replace(/^router\./, '')}`);
    return `${host}/${prefix}${app}`;
}
async function runImport(client, options) {
    const { app, logger } = options;
    const index = await readTarballIndex(options.tarball);
    if (!index.build) {
        throw new errors_UserError({ input: 'import', message: `${options.tarball} has no build.json` });
    }
    if (index.services.length === 0) {
        throw new errors_UserError({ input: 'import', message: `${options.tarball} holds no image archives` });
    }
    const source = { buildId: index.build.id ?? '', releaseId: index.build.release ?? '' };
    logger.info(`rack ${client.host}: importing build ${source.buildId} (${index.services.join(', ')}) into ${app}`);
    const imported = await client.buildImport(app, options.tarball);
    const buildId = imported.id;
    try {
        const build = await client.buildGet(app, buildId);
        if (build.status !== 'complete') {
            throw new Error(`the rack left imported build ${buildId} ${build.status || 'without a status'}`);
        }
        if (!build.release)
            throw new Error(`the rack made no release for imported build ${buildId}`);
        const release = await client.releaseGet(app, build.release);
        if (release.build !== buildId) {
            throw new Error(`release ${release.id} points to build ${release.build}, not ${buildId}`);
        }
        const repository = options.repository ?? rackRepository(client, await client.systemGet(), app);
        const registry = repository.split('/')[0] ?? '';
        const images = {};
        const missing = [];
        for (const service of index.services) {
            const tag = `${service}.${buildId}`;
            const ref = `${repository}:${tag}`;
            images[service] = ref;
            if (!options.verifyImage)
                continue;
            let ok;
            let why = '';
            try {
                ok =
                    (await options.verifyImage({
                        service,
                        tag,
                        ref,
                        repository,
                        credentials: { registry, ...client.credentials }
                    })) !== false;
            }
            catch (e) {
                ok = false;
                why = `: ${client.scrub(e instanceof Error ? e.message : String(e))}`;
            }
            if (!ok)
                missing.push(`${ref}${why}`);
        }
        if (missing.length > 0) {
            throw new Error(`the rack did not push ${missing.join('; ')}`);
        }
        if (!options.verifyImage) {
            logger.warning(`rack ${client.host}: imported images were not verified (no registry check)`);
        }
        logger.info(`rack ${client.host}: imported build ${buildId}, release ${build.release}`);
        return { buildId, releaseId: build.release, build, images, source };
    }
    catch (e) {
        // never leave a broken build looking complete: promoting it would fail or run old images
        const reason = client.scrub(e instanceof Error ? e.message : String(e));
        try {
            await client.buildUpdate(app, buildId, { status: 'failed', reason, ended: new Date() });
        }
        catch (u) {
            logger.warning(`rack ${client.host}: could not mark imported build ${buildId} failed: ${u instanceof Error ? u.message : String(u)}`);
        }
        throw new Error(`rack ${client.host}: import into ${app} failed: ${reason}`, { cause: e });
    }
}

;// CONCATENATED MODULE: ./src/core/rack/promote.js
// `convox releases promote` and its wait (pkg/cli/releases.go releasePromote,
// pkg/common/provider.go WaitForAppRunning): the app's status is `updating` while it rolls out,
// `rollback` when the rollout failed, then `running` on whichever release won.

class PromoteError extends Error {
    app;
    constructor(message, app) {
        super(message);
        this.app = app;
        this.name = 'PromoteError';
    }
}
async function promoteRelease(client, options) {
    const { app, releaseId, logger } = options;
    const timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const pollMs = options.pollMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const where = `rack ${client.host}: app ${app}`;
    let current = await client.appGet(app);
    if (!options.force && current.status !== 'running') {
        logger.info(`${where} is ${current.status}: waiting for it to be running before promoting`);
        while (current.status !== 'running') {
            if (Date.now() >= deadline) {
                throw new PromoteError(`${where}: still ${current.status} after ${promote_seconds(timeoutMs)}, release ${releaseId} not promoted`, current);
            }
            await (0,external_node_timers_promises_namespaceObject.setTimeout)(pollMs);
            current = await client.appGet(app);
        }
    }
    const previous = current.release;
    if (previous === releaseId && current.status === 'running') {
        logger.info(`${where} already runs release ${releaseId}`);
    }
    logger.info(`${where}: promoting release ${releaseId}`);
    await client.releasePromote(app, releaseId, { force: options.force ?? false });
    // The rack may still report the old release for a moment: only a state the promote caused
    // (updating, rollback, or the new release) counts, or the grace of one poll period.
    const graceUntil = Date.now() + pollMs;
    let seenChange = false;
    for (;;) {
        await (0,external_node_timers_promises_namespaceObject.setTimeout)(Math.min(pollMs, Math.max(0, deadline - Date.now())));
        current = await client.appGet(app);
        if (current.status !== 'running' || current.release === releaseId)
            seenChange = true;
        if (current.status === 'rollback') {
            throw new PromoteError(`${where}: release ${releaseId} rolled back${current.release && current.release !== releaseId ? ` to ${current.release}` : ''}`, current);
        }
        if (current.status === 'running' && (seenChange || Date.now() >= graceUntil)) {
            if (current.release === releaseId) {
                logger.info(`${where} runs release ${releaseId}`);
                return current;
            }
            throw new PromoteError(`${where}: release ${releaseId} rolled back: the app runs ${current.release || 'no release'}${previous && current.release === previous ? ' (the previous release)' : ''}`, current);
        }
        if (Date.now() >= deadline) {
            throw new PromoteError(`${where}: timed out after ${promote_seconds(timeoutMs)} waiting for release ${releaseId} to run (status ${current.status}, release ${current.release || 'none'})`, current);
        }
    }
}
function promote_seconds(ms) {
    return ms >= 60_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`;
}

;// CONCATENATED MODULE: ./src/core/rack/index.js
// The rack integration: what the pipeline needs.






;// CONCATENATED MODULE: ./src/core/git.js
// The commit a build is of (BUILD_GIT_SHA) and the default build description.


const PR_EVENTS = ['pull_request', 'pull_request_target'];
/** The event payload GitHub wrote for this job, or null outside GitHub / when unreadable. */
function readEventPayload(env) {
    const file = env.GITHUB_EVENT_PATH;
    if (!file)
        return null;
    try {
        const data = JSON.parse(external_node_fs_namespaceObject.readFileSync(file, 'utf8'));
        return data !== null && typeof data === 'object' ? data : null;
    }
    catch {
        return null;
    }
}
function pick(obj, ...keys) {
    let v = obj;
    for (const k of keys) {
        if (v === null || typeof v !== 'object')
            return undefined;
        v = v[k];
    }
    return v;
}
/**
 * The commit actually built: on pull_request(_target) events the PR head (GITHUB_SHA is a merge
 * commit there, or the base branch), else GITHUB_SHA, else `git rev-parse HEAD` in cwd.
 */
async function resolveGitSha(env, cwd, exec) {
    if (PR_EVENTS.includes(env.GITHUB_EVENT_NAME ?? '')) {
        const head = pick(readEventPayload(env), 'pull_request', 'head', 'sha');
        if (typeof head === 'string' && head !== '')
            return head;
    }
    if (env.GITHUB_SHA)
        return env.GITHUB_SHA;
    let result;
    try {
        result = await exec('git', ['rev-parse', 'HEAD'], { cwd, env });
    }
    catch (e) {
        throw new errors_UserError(`cannot tell which commit is built: GITHUB_SHA is not set and git failed (${e.message})`);
    }
    const sha = result.stdout.trim();
    if (result.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(sha)) {
        throw new errors_UserError(`cannot tell which commit is built: GITHUB_SHA is not set and ${cwd} is not in a git repository with a commit`);
    }
    return sha;
}
/** `build <sha10> <commit subject>`; the subject from git, else from the event payload. */
async function defaultDescription(sha, env, cwd, exec) {
    const short = sha.slice(0, 10);
    let subject = '';
    if (sha) {
        try {
            const r = await exec('git', ['log', '-1', '--format=%s', sha, '--'], { cwd, env });
            if (r.exitCode === 0)
                subject = r.stdout.trim();
        }
        catch {
            // no git: fall back to the payload
        }
    }
    if (!subject) {
        const message = pick(readEventPayload(env), 'head_commit', 'message');
        if (typeof message === 'string')
            subject = (message.split(/\r?\n/)[0] ?? '').trim();
    }
    return subject ? `build ${short} ${subject}` : `build ${short}`;
}

;// CONCATENATED MODULE: ./src/core/ids.js

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** `prefix` + `length` letters A-Z; crypto.randomInt rejects out-of-range draws, so no modulo bias. */
function randomId(prefix, length = 10) {
    let id = prefix;
    for (let i = 0; i < length; i++)
        id += LETTERS[(0,external_node_crypto_namespaceObject.randomInt)(0, LETTERS.length)];
    return id;
}
/** A build id as the rack makes them: `B` + 10 letters. */
function newBuildId() {
    return randomId('B');
}
/** A release id as the rack makes them: `R` + 10 letters. */
function newReleaseId() {
    return randomId('R');
}
const BUILD_ID_PATTERN = /^B[A-Z]{10}$/;
const RELEASE_ID_PATTERN = /^R[A-Z]{10}$/;

;// CONCATENATED MODULE: ./src/core/dockerfile.js
// What a build needs to know of a Dockerfile: the ARG names it declares (any stage, or before the
// first FROM) and its stage names. A scan, not a full parser, but one that follows the Dockerfile
// syntax where the rack's line scan does not: parser directives, the escape character, line
// continuations (with comment lines inside them), several names per ARG, quoted defaults, any
// keyword case, and heredocs (whose bodies are not instructions).


/** Scans Dockerfile text; bad parser directives are returned as problems. */
function scanDockerfile(text) {
    const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
    const problems = [];
    let escape = '\\';
    let i = 0;
    // Parser directives: only at the very top, one per line, each at most once; the first line
    // that is not one (comment, blank line, instruction) ends them.
    const seen = new Set();
    for (; i < lines.length; i++) {
        const m = /^\s*#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$/.exec(lines[i] ?? '');
        if (!m)
            break;
        const name = (m[1] ?? '').toLowerCase();
        if (!['escape', 'syntax', 'check'].includes(name))
            break;
        if (seen.has(name))
            break;
        seen.add(name);
        if (name === 'escape') {
            const v = m[2] ?? '';
            if (v !== '\\' && v !== '`') {
                problems.push({ line: i + 1, message: `invalid escape directive "${v}": must be \\ or \`` });
            }
            else {
                escape = v;
            }
        }
    }
    const args = [];
    const stages = [];
    const pendingHeredocs = [];
    while (i < lines.length) {
        // Heredoc bodies follow the instruction line that opened them.
        if (pendingHeredocs.length > 0) {
            const h = pendingHeredocs[0];
            const line = lines[i] ?? '';
            if ((h.strip ? line.replace(/^\t+/, '') : line) === h.word)
                pendingHeredocs.shift();
            i++;
            continue;
        }
        const first = lines[i] ?? '';
        i++;
        if (isBlankOrComment(first))
            continue;
        // Join continuation lines; comment and blank lines inside a continuation are skipped.
        let logical = '';
        let current = first;
        for (;;) {
            const cont = continued(current, escape);
            if (cont === null) {
                logical += current;
                break;
            }
            logical += cont;
            while (i < lines.length && isBlankOrComment(lines[i] ?? ''))
                i++;
            if (i >= lines.length)
                break;
            current = lines[i] ?? '';
            i++;
        }
        const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(logical);
        if (!m)
            continue;
        const keyword = (m[1] ?? '').toUpperCase();
        const rest = m[2] ?? '';
        if (keyword === 'ARG') {
            for (const word of words(rest, escape)) {
                const name = word.split('=')[0] ?? '';
                if (name !== '' && !args.includes(name))
                    args.push(name);
            }
        }
        else if (keyword === 'FROM') {
            const w = words(rest, escape).filter(x => !x.startsWith('--'));
            if (w.length >= 3 && (w[w.length - 2] ?? '').toLowerCase() === 'as')
                stages.push(w[w.length - 1]);
        }
        else if (keyword === 'RUN' || keyword === 'COPY' || keyword === 'ADD') {
            for (const h of rest.matchAll(/(?:^|\s)\d*<<(-?)(["']?)([A-Za-z0-9_][A-Za-z0-9_.-]*)\2/g)) {
                pendingHeredocs.push({ word: h[3] ?? '', strip: h[1] === '-' });
            }
        }
    }
    return { args, stages, escape, problems };
}
/** Reads and scans a Dockerfile; `shown` names it in errors (relative to the working directory). */
function readDockerfile(file, shown) {
    let text;
    try {
        text = external_node_fs_namespaceObject.readFileSync(file, 'utf8');
    }
    catch (e) {
        const code = e.code;
        throw new errors_UserError({
            file: shown,
            message: code === 'ENOENT' ? 'Dockerfile does not exist' : `Dockerfile cannot be read (${code})`
        });
    }
    const info = scanDockerfile(text);
    if (info.problems.length > 0) {
        throw new errors_UserError(info.problems.map(p => ({ file: shown, line: p.line, col: 1, message: p.message })));
    }
    return { args: info.args, stages: info.stages, escape: info.escape };
}
/** True when a stage named `name` exists (stage names are case-insensitive). */
function hasStage(info, name) {
    return info.stages.some(s => s.toLowerCase() === name.toLowerCase());
}
function isBlankOrComment(line) {
    return /^\s*(#|$)/.test(line);
}
/** The line without its trailing escape character when it continues, else null. */
function continued(line, escape) {
    const trimmed = line.replace(/\s+$/, '');
    if (!trimmed.endsWith(escape))
        return null;
    return trimmed.slice(0, -1);
}
/** Splits an instruction's arguments into words: whitespace separates outside quotes. */
function words(text, escape) {
    const out = [];
    let word = '';
    let inWord = false;
    let quote = null;
    for (let j = 0; j < text.length; j++) {
        const c = text[j];
        if (c === escape && quote !== "'" && j + 1 < text.length) {
            word += text[j + 1];
            inWord = true;
            j++;
        }
        else if (quote) {
            if (c === quote)
                quote = null;
            else
                word += c;
        }
        else if (c === '"' || c === "'") {
            quote = c;
            inWord = true;
        }
        else if (/\s/.test(c)) {
            if (inWord)
                out.push(word);
            word = '';
            inWord = false;
        }
        else {
            word += c;
            inWord = true;
        }
    }
    if (inWord)
        out.push(word);
    return out;
}

// EXTERNAL MODULE: ../../node_modules/yaml/dist/index.js
var dist = __nccwpck_require__(3483);
;// CONCATENATED MODULE: ./src/core/image-ref.js
// Docker image reference grammar (the distribution reference spec): [host[:port]/]path[:tag][@digest].
const HOST_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = new RegExp(`^(?:${HOST_COMPONENT}(?:\\.${HOST_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const image_ref_PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const image_ref_TAG = /^[\w][\w.-]{0,127}$/;
const image_ref_DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** Why `ref` is not a valid image reference, or null when it is. */
function imageReferenceProblem(ref) {
    if (ref === '')
        return 'is empty';
    if (/\s/.test(ref))
        return 'contains whitespace';
    let rest = ref;
    const at = rest.indexOf('@');
    if (at >= 0) {
        const digest = rest.slice(at + 1);
        if (!image_ref_DIGEST.test(digest))
            return `has an invalid digest "${digest}" (expected algorithm:hex)`;
        rest = rest.slice(0, at);
    }
    const slash = rest.lastIndexOf('/');
    const colon = rest.lastIndexOf(':');
    if (colon > slash) {
        const tag = rest.slice(colon + 1);
        if (!image_ref_TAG.test(tag)) {
            return `has an invalid tag "${tag}" (a tag is 1 to 128 letters, digits, _, . or -, and does not start with . or -)`;
        }
        rest = rest.slice(0, colon);
    }
    if (rest === '')
        return 'has no repository name';
    if (rest.length > 255)
        return 'has a repository name longer than 255 characters';
    const parts = rest.split('/');
    const first = parts[0] ?? '';
    // The first part is a registry host when it looks like one (as docker decides).
    if (parts.length > 1 &&
        (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))) {
        if (!HOST.test(first))
            return `has an invalid registry host "${first}"`;
        parts.shift();
    }
    for (const p of parts) {
        if (!image_ref_PATH_COMPONENT.test(p)) {
            return p === ''
                ? 'has an empty path component'
                : /[A-Z]/.test(p)
                    ? `has "${p}" in its repository name: repository names must be lowercase`
                    : `has an invalid repository name component "${p}"`;
        }
    }
    return null;
}
function isValidImageReference(ref) {
    return imageReferenceProblem(ref) === null;
}

;// CONCATENATED MODULE: ./src/core/interpolate.js
// `${VAR}` interpolation of convox.yml, as the rack does it (pkg/manifest/helpers.go): every
// `${...}` up to the first `}` (newlines included) becomes the value of the variable named by
// exactly what is between the braces; an unset variable becomes ''. There is no escape and no
// `${VAR:-default}` form: `${A:-b}` looks up a variable literally named `A:-b`.
const PATTERN = /\$\{([^}]*)\}/g;
function interpolate(source, env) {
    const replacements = [];
    let text = '';
    let last = 0;
    for (const m of source.matchAll(PATTERN)) {
        const start = m.index;
        const name = m[1] ?? '';
        text += source.slice(last, start);
        // Only own properties: `${constructor}` must not find Object.prototype.constructor.
        const set = Object.prototype.hasOwnProperty.call(env, name) && env[name] !== undefined;
        const value = set ? String(env[name]) : '';
        replacements.push({
            name,
            start,
            end: start + m[0].length,
            outStart: text.length,
            outEnd: text.length + value.length,
            set
        });
        text += value;
        last = start + m[0].length;
    }
    text += source.slice(last);
    return { text, replacements };
}
/** Maps an offset of the interpolated text back to the source: inside a value, to its `${`. */
function sourceOffset(result, offset) {
    let delta = 0;
    for (const r of result.replacements) {
        if (offset < r.outStart)
            break;
        if (offset === r.outStart || offset < r.outEnd)
            return r.start;
        delta = r.end - r.outEnd;
    }
    return offset + delta;
}
/** The replacements whose value lies in (or, when empty, at) the interpolated range. */
function replacementsIn(result, start, end) {
    return result.replacements.filter(r => r.outStart === r.outEnd
        ? r.outStart >= start && r.outStart <= end
        : r.outStart < end && r.outEnd > start);
}
/** A variable name a shell would accept; anything else between the braces is a likely mistake. */
function isPlainVariableName(name) {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

;// CONCATENATED MODULE: ./src/core/manifest.js
// convox.yml: interpolation, parsing with positions and what a build needs of it. Everything a
// build does not use is accepted as it is: the rack validates it at release time.






const DEFAULT_DOCKERFILE = 'Dockerfile';
/** The rack's service name rule (pkg/manifest validate.go); names end up in image tags. */
const SERVICE_NAME = /^[a-z][a-z0-9-]*$/;
/** Interpolates and parses manifest text; throws one UserError with every problem found. */
function parseManifest(text, options) {
    const { problems, ...parsed } = new ManifestParser(text, options).parse();
    if (problems.length > 0)
        throw new UserError(problems);
    return parsed;
}
/** Reads, parses and checks the manifest and every build's context and Dockerfile. */
function loadManifest(options) {
    const { workingDirectory, manifest, env, logger } = options;
    const file = manifest;
    const abs = external_node_path_namespaceObject.resolve(workingDirectory, manifest);
    let text;
    try {
        text = external_node_fs_namespaceObject.readFileSync(abs, 'utf8');
    }
    catch (e) {
        const code = e.code;
        const why = code === 'ENOENT'
            ? `no such file in ${workingDirectory}`
            : code === 'EISDIR'
                ? 'is a directory, not a file'
                : `cannot be read (${code ?? String(e)})`;
        throw new errors_UserError({ input: 'manifest', message: `${manifest} ${why}` });
    }
    // Problems of the text and of the disk are reported together.
    const { problems, ...parsed } = new ManifestParser(text, { file, env, logger }).parse();
    const services = [];
    const root = realpathOrSelf(workingDirectory);
    for (const s of parsed.services) {
        if (!s.build) {
            services.push({ name: s.name, at: s.at, image: s.image });
            continue;
        }
        const build = resolveBuild(s.build, workingDirectory, root, file, problems);
        if (build)
            services.push({ name: s.name, at: s.at, build });
    }
    if (problems.length > 0)
        throw new errors_UserError(problems);
    return { file, path: abs, text, services };
}
function resolveBuild(b, workingDirectory, root, file, problems) {
    const fail = (at, message) => {
        problems.push({ file, ...at, message });
        return undefined;
    };
    if (isAbsolutePath(b.path)) {
        return fail(b.pathAt, `build path "${b.path}" must be relative to the working directory`);
    }
    const contextPath = external_node_path_namespaceObject.resolve(workingDirectory, b.path);
    if (!inside(workingDirectory, contextPath)) {
        return fail(b.pathAt, `build path "${b.path}" is outside the working directory`);
    }
    const stat = statOrNull(contextPath);
    if (!stat)
        return fail(b.pathAt, `build path "${b.path}" does not exist`);
    if (!stat.isDirectory())
        return fail(b.pathAt, `build path "${b.path}" is not a directory`);
    if (!inside(root, realpathOrSelf(contextPath))) {
        return fail(b.pathAt, `build path "${b.path}" leads outside the working directory (symlink)`);
    }
    if (isAbsolutePath(b.manifest)) {
        return fail(b.manifestAt, `Dockerfile "${b.manifest}" must be relative to the build path`);
    }
    const dockerfilePath = external_node_path_namespaceObject.resolve(contextPath, b.manifest);
    const shown = posix(external_node_path_namespaceObject.relative(workingDirectory, dockerfilePath));
    if (!inside(workingDirectory, dockerfilePath)) {
        return fail(b.manifestAt, `Dockerfile "${b.manifest}" is outside the working directory`);
    }
    const df = statOrNull(dockerfilePath);
    if (!df)
        return fail(b.manifestAt, `Dockerfile ${shown} does not exist`);
    if (!df.isFile())
        return fail(b.manifestAt, `Dockerfile ${shown} is not a file`);
    if (!inside(root, realpathOrSelf(dockerfilePath))) {
        return fail(b.manifestAt, `Dockerfile ${shown} leads outside the working directory (symlink)`);
    }
    return {
        context: posix(external_node_path_namespaceObject.relative(workingDirectory, contextPath)) || '.',
        dockerfile: posix(external_node_path_namespaceObject.relative(contextPath, dockerfilePath)),
        contextPath,
        dockerfilePath
    };
}
function isAbsolutePath(p) {
    return external_node_path_namespaceObject.isAbsolute(p) || external_node_path_namespaceObject.win32.isAbsolute(p);
}
function inside(parent, child) {
    const rel = external_node_path_namespaceObject.relative(parent, child);
    return rel === '' || (!rel.startsWith('..' + external_node_path_namespaceObject.sep) && rel !== '..' && !external_node_path_namespaceObject.isAbsolute(rel));
}
function statOrNull(p) {
    try {
        return external_node_fs_namespaceObject.statSync(p);
    }
    catch {
        return null;
    }
}
function realpathOrSelf(p) {
    try {
        return external_node_fs_namespaceObject.realpathSync(p);
    }
    catch {
        return p;
    }
}
function posix(p) {
    return p.split(external_node_path_namespaceObject.sep).join('/');
}
class ManifestParser {
    source;
    options;
    problems = [];
    merges = 0;
    lines = new dist/* LineCounter */.HN();
    interpolated;
    doc;
    constructor(source, options) {
        this.source = source;
        this.options = options;
        this.lines.addNewLine(0);
        for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) {
            this.lines.addNewLine(i + 1);
        }
        this.interpolated = interpolate(source, options.env);
    }
    /** Throws only for YAML syntax errors; every other problem is returned with what parsed. */
    parse() {
        const { file, logger } = this.options;
        for (const r of this.interpolated.replacements) {
            if (r.set)
                continue;
            const hint = isPlainVariableName(r.name)
                ? ''
                : ` (the rack looks up a variable named exactly "${r.name}": no defaults or other shell forms)`;
            logger.warning(`\${${r.name}} is not set: it becomes empty${hint}`, {
                file,
                ...this.lines.linePos(r.start)
            });
        }
        // YAML 1.1 as the rack's gopkg.in/yaml.v2 (merge keys, yes/no booleans); duplicate keys
        // are checked below only where builds care, as yaml.v2 accepts them elsewhere.
        this.doc = (0,dist/* parseDocument */.Tp)(this.interpolated.text, {
            version: '1.1',
            prettyErrors: false,
            uniqueKeys: false
        });
        for (const e of this.doc.errors) {
            this.problems.push(this.problem(e.pos[0], yamlMessage(e.message)));
        }
        if (this.problems.length > 0)
            throw new errors_UserError(this.problems);
        const services = this.services();
        return { file, text: this.source, services, problems: this.problems };
    }
    services() {
        const contents = this.deref(this.doc.contents);
        if (contents === null || ((0,dist/* isScalar */.jn)(contents) && contents.value === null))
            return [];
        if (!(0,dist/* isMap */.jh)(contents)) {
            this.problems.push(this.problem(start(contents), 'the manifest must be a YAML mapping'));
            return [];
        }
        const top = this.entries(contents, 'the manifest');
        const servicesEntry = top.get('services');
        if (!servicesEntry) {
            for (const k of top.keys()) {
                if (k !== 'services' && /^services?s*$|^service$/i.test(k)) {
                    const e = top.get(k);
                    this.problems.push(this.problem(start(e?.keyNode), `unknown key "${k}": did you mean "services"?`));
                }
            }
            return [];
        }
        const node = this.deref(servicesEntry.value);
        if (node === null || ((0,dist/* isScalar */.jn)(node) && node.value === null))
            return [];
        if (!(0,dist/* isMap */.jh)(node)) {
            this.problems.push(this.problem(start(node), 'services must be a map of service names to their definitions'));
            return [];
        }
        const out = [];
        for (const [name, e] of this.entries(node, 'services')) {
            const s = this.service(name, e);
            if (s)
                out.push(s);
        }
        return out;
    }
    service(name, e) {
        const at = this.pos(start(e.keyNode));
        if (!SERVICE_NAME.test(name)) {
            this.problems.push({
                file: this.options.file,
                ...at,
                message: `service name "${name}" is invalid: it must start with a lowercase letter and hold only lowercase letters, digits and dashes`
            });
        }
        const node = this.deref(e.value);
        // A service without build or image builds `.` with `Dockerfile`, as on the rack.
        const defaults = { path: '.', manifest: DEFAULT_DOCKERFILE, pathAt: at, manifestAt: at };
        if (node === null || ((0,dist/* isScalar */.jn)(node) && node.value === null))
            return { name, at, build: defaults };
        if (!(0,dist/* isMap */.jh)(node)) {
            this.problems.push(this.problem(start(node), `service ${name} must be a map`));
            return undefined;
        }
        const fields = this.entries(node, `service ${name}`);
        // `image: ${X}` with X unset would silently build `.` on the rack: refuse instead.
        for (const key of ['build', 'image']) {
            const f = fields.get(key);
            if (!f || nonNull(f))
                continue;
            const why = this.emptied(f.value ?? f.keyNode, f.value ? 0 : Infinity);
            if (why) {
                this.problems.push(this.problem(start(f.keyNode), `service ${name}: ${key} is empty${why}`));
                return undefined;
            }
        }
        const build = nonNull(fields.get('build'));
        const image = nonNull(fields.get('image'));
        if (build && image) {
            const later = start(build.keyNode) > start(image.keyNode) ? build : image;
            this.problems.push(this.problem(start(later.keyNode), `service ${name} has both build and image: a service either builds or uses an image`));
            return undefined;
        }
        if (image)
            return this.imageService(name, at, image);
        if (!build)
            return { name, at, build: defaults };
        return this.buildService(name, at, build);
    }
    imageService(name, at, e) {
        const node = this.deref(e.value);
        if (!(0,dist/* isScalar */.jn)(node)) {
            this.problems.push(this.problem(start(node), `service ${name}: image must be a string`));
            return undefined;
        }
        const image = scalarText(node);
        const why = imageReferenceProblem(image);
        if (why) {
            this.problems.push(this.problem(start(node), `service ${name}: image "${image}" ${why}${this.emptied(node)}`));
            return undefined;
        }
        return { name, at, image };
    }
    buildService(name, at, e) {
        const node = this.deref(e.value);
        const nodeAt = this.pos(start(node));
        if ((0,dist/* isScalar */.jn)(node)) {
            // yaml.v2 rejects a number or boolean here; its 1.1 resolver differs from ours (`.` is a
            // float to us), so take the text and let the path checks speak.
            const value = scalarText(node);
            const p = value === '' ? '.' : value;
            if (value === '' && this.emptied(node)) {
                this.problems.push(this.problem(start(node), `service ${name}: build path is empty${this.emptied(node)}`));
                return undefined;
            }
            return {
                name,
                at,
                build: { path: p, manifest: DEFAULT_DOCKERFILE, pathAt: nodeAt, manifestAt: nodeAt }
            };
        }
        if (!(0,dist/* isMap */.jh)(node)) {
            this.problems.push(this.problem(start(node), `service ${name}: build must be a path or a map with path and manifest`));
            return undefined;
        }
        const fields = this.entries(node, `service ${name} build`);
        const text = (key) => {
            const raw = fields.get(key);
            const f = nonNull(raw);
            if (!f) {
                const why = raw ? this.emptied(raw.value ?? raw.keyNode, raw.value ? 0 : Infinity) : '';
                if (!why)
                    return null;
                this.problems.push(this.problem(start(raw?.keyNode), `service ${name}: build.${key} is empty${why}`));
                return undefined;
            }
            const v = this.deref(f.value);
            if (!(0,dist/* isScalar */.jn)(v)) {
                this.problems.push(this.problem(start(v), `service ${name}: build.${key} must be a string`));
                return undefined;
            }
            const value = scalarText(v);
            if (value === '' && this.emptied(v)) {
                this.problems.push(this.problem(start(v), `service ${name}: build.${key} is empty${this.emptied(v)}`));
                return undefined;
            }
            return { value, at: this.pos(start(v)) };
        };
        const p = text('path');
        const m = text('manifest');
        if (p === undefined || m === undefined)
            return undefined;
        for (const [key, f] of fields) {
            if (key === 'path' || key === 'manifest')
                continue;
            const where = { file: this.options.file, ...this.pos(start(f.keyNode)) };
            if (key === 'args') {
                this.options.logger.warning(`service ${name}: build.args is not used by Convox builds; pass build args with the build-args input`, where);
            }
            else {
                this.options.logger.warning(`service ${name}: unknown key build.${key} is ignored`, where);
            }
        }
        return {
            name,
            at,
            build: {
                path: p?.value || '.',
                manifest: m?.value || DEFAULT_DOCKERFILE,
                pathAt: p?.at ?? nodeAt,
                manifestAt: m?.at ?? nodeAt
            }
        };
    }
    /** Keys of a map in order, `<<` merges applied (explicit keys win), duplicates reported. */
    entries(map, what, depth = 0) {
        const out = new Map();
        const merged = [];
        for (const pair of map.items) {
            const keyNode = (pair.key ?? null);
            if (isMergeKey(keyNode)) {
                // Bounded, so nested aliases cannot blow up (the "billion laughs").
                if (depth > 20 || ++this.merges > 10000) {
                    if (this.merges === 10001)
                        this.problems.push(this.problem(start(keyNode), 'too many merged aliases'));
                    continue;
                }
                const v = this.deref((pair.value ?? null));
                const sources = (0,dist/* isSeq */.oP)(v) ? v.items.map(i => this.deref(i)) : [v];
                for (const src of sources) {
                    if ((0,dist/* isMap */.jh)(src))
                        merged.push(this.entries(src, what, depth + 1));
                }
                continue;
            }
            const key = keyText(keyNode);
            const prev = out.get(key);
            if (prev) {
                this.problems.push(this.problem(start(keyNode), `${what}: key "${key}" is defined twice (first on line ${this.pos(start(prev.keyNode)).line})`));
                continue;
            }
            out.set(key, { key, keyNode, value: (pair.value ?? null), pair });
        }
        for (const m of merged) {
            for (const [k, e] of m)
                if (!out.has(k))
                    out.set(k, e);
        }
        return out;
    }
    deref(node, depth = 0) {
        if (node === null || node === undefined)
            return null;
        if ((0,dist/* isAlias */.Vj)(node)) {
            if (depth > 20)
                return null;
            return this.deref((node.resolve(this.doc) ?? null), depth + 1);
        }
        return node;
    }
    /** ` (${X} was not set)` when unset variables made this node's value. */
    emptied(node, slack = 0) {
        if (!node?.range)
            return '';
        const end = Math.min(node.range[2] + slack, this.lineEnd(node.range[2]));
        const unset = replacementsIn(this.interpolated, node.range[0], end).filter(r => !r.set);
        if (unset.length === 0)
            return '';
        const names = unset.map(r => `\${${r.name}}`).join(', ');
        return ` (${names} ${unset.length === 1 ? 'is' : 'are'} not set and became empty)`;
    }
    /** Offset of the end of the interpolated line holding offset. */
    lineEnd(offset) {
        const nl = this.interpolated.text.indexOf('\n', offset);
        return nl < 0 ? this.interpolated.text.length : nl;
    }
    pos(offset) {
        const p = this.lines.linePos(sourceOffset(this.interpolated, offset));
        return { line: Math.max(1, p.line), col: Math.max(1, p.col) };
    }
    problem(offset, message) {
        return { file: this.options.file, ...this.pos(offset), message };
    }
}
function nonNull(e) {
    if (!e)
        return undefined;
    const v = e.value;
    if (v === null || ((0,dist/* isScalar */.jn)(v) && v.value === null))
        return undefined;
    return e;
}
function start(node) {
    return node?.range?.[0] ?? 0;
}
function isMergeKey(node) {
    if (!(0,dist/* isScalar */.jn)(node))
        return false;
    if (node.type && node.type !== dist/* Scalar */.X5.PLAIN)
        return false;
    const v = node.value;
    return v === '<<' || (typeof v === 'symbol' && v.description === '<<');
}
/** Keys as yaml.v2 names them: the scalar's text (`1` for an integer key). */
function keyText(node) {
    if (node === null)
        return '';
    if ((0,dist/* isScalar */.jn)(node))
        return scalarText(node);
    return String(node.toJSON?.() ?? '');
}
/** A scalar as yaml.v2 decodes it into a string field: its text, whatever its type. */
function scalarText(node) {
    if (typeof node.value === 'string')
        return node.value;
    if (node.value === null)
        return '';
    return node.source ?? String(node.value);
}
/** yaml's messages end with a position we report separately. */
function yamlMessage(message) {
    return message.replace(/ at line \d+, column \d+[\s\S]*$/, '');
}

;// CONCATENATED MODULE: ./src/core/plan.js
// The build plan: the manifest and the workflow context turned into exact builds, before any
// builder runs. Pure: reads the manifest and Dockerfiles, nothing else.






const DEVELOPMENT_TARGET = 'development';
/** Loads and checks everything a build needs; one UserError with every problem found. */
async function createPlan(settings, context, logger) {
    const buildId = context.buildId ?? newBuildId();
    const problems = [];
    const collect = (fn) => {
        try {
            return fn();
        }
        catch (e) {
            if (!isUserError(e))
                throw e;
            problems.push(...e.problems);
            return undefined;
        }
    };
    const managed = {
        BUILD_APP: () => settings.app,
        BUILD_AUTH: () => buildAuth(settings),
        BUILD_DEVELOPMENT: () => String(settings.development),
        BUILD_GENERATION: () => '2',
        BUILD_GIT_SHA: () => context.gitSha,
        BUILD_ID: () => buildId,
        BUILD_MANIFEST: () => settings.manifest,
        BUILD_RACK: () => context.rackName || settings.rack
    };
    const requested = collect(() => parseBuildArgs(settings.buildArgs, { env: context.env, managed: n => managed[n](), logger })) ?? [];
    const manifest = collect(() => loadManifest({
        workingDirectory: settings.workingDirectory,
        manifest: settings.manifest,
        env: context.env,
        logger
    }));
    if (manifest && manifest.services.length === 0) {
        problems.push({
            file: manifest.file,
            line: 1,
            col: 1,
            message: 'no services: the manifest has nothing to build (a "services" map is needed)'
        });
    }
    const dockerfiles = new Map();
    for (const s of manifest?.services ?? []) {
        if (!s.build || dockerfiles.has(s.build.dockerfilePath))
            continue;
        const shown = external_node_path_namespaceObject.posix.join(s.build.context, s.build.dockerfile);
        const info = collect(() => readDockerfile(s.build.dockerfilePath, shown));
        if (info)
            dockerfiles.set(s.build.dockerfilePath, info);
    }
    if (problems.length > 0 || !manifest)
        throw new errors_UserError(problems);
    return assemble(settings, context, buildId, manifest, dockerfiles, requested, logger);
}
function assemble(settings, context, buildId, manifest, dockerfiles, requested, logger) {
    const repository = settings.registry || settings.app;
    const builds = [];
    const byKey = new Map();
    const services = [];
    const used = new Set();
    for (const s of manifest.services) {
        const image = `${repository}:${s.name}.${buildId}`;
        if (!s.build) {
            services.push({ name: s.name, from: s.image, image, build: null });
            continue;
        }
        const info = dockerfiles.get(s.build.dockerfilePath);
        const argValues = {};
        for (const a of [...requested].sort((x, y) => compare(x.name, y.name))) {
            if (!info.args.includes(a.name))
                continue;
            argValues[a.name] = a.value;
            used.add(a.name);
        }
        const args = Object.keys(argValues);
        const target = settings.development && hasStage(info, DEVELOPMENT_TARGET) ? DEVELOPMENT_TARGET : null;
        const key = JSON.stringify([s.build.context, s.build.dockerfile, argValues, target]);
        let index = byKey.get(key);
        if (index === undefined) {
            index = builds.length;
            byKey.set(key, index);
            builds.push({
                context: s.build.context,
                dockerfile: s.build.dockerfile,
                services: [],
                args,
                target,
                contextPath: s.build.contextPath,
                dockerfilePath: s.build.dockerfilePath,
                argValues
            });
        }
        builds[index].services.push(s.name);
        services.push({
            name: s.name,
            context: s.build.context,
            dockerfile: s.build.dockerfile,
            image,
            args,
            target,
            build: index
        });
    }
    for (const a of requested) {
        if (used.has(a.name))
            continue;
        logger.warning(`build arg ${a.name} is not declared (ARG ${a.name}) by any Dockerfile of this build: it is not passed`, { input: 'build-args', line: a.line });
    }
    return {
        app: settings.app,
        buildId,
        manifest: settings.manifest,
        gitSha: context.gitSha,
        description: context.description,
        development: settings.development,
        services,
        builds,
        rack: context.rackName || settings.rack,
        registry: settings.push ? settings.registry : '',
        manifestText: manifest.text,
        workingDirectory: settings.workingDirectory
    };
}
function compare(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
/** The output `plan`, keys in the documented order, no arg values. */
function planOutput(plan) {
    return {
        app: plan.app,
        buildId: plan.buildId,
        manifest: plan.manifest,
        gitSha: plan.gitSha,
        description: plan.description,
        development: plan.development,
        services: plan.services.map(s => s.build === null
            ? { name: s.name, from: s.from, image: s.image, build: null }
            : {
                name: s.name,
                context: s.context,
                dockerfile: s.dockerfile,
                image: s.image,
                args: [...(s.args ?? [])],
                target: s.target ?? null,
                build: s.build
            }),
        builds: plan.builds.map(b => ({
            context: b.context,
            dockerfile: b.dockerfile,
            services: [...b.services],
            args: [...b.args],
            target: b.target
        }))
    };
}

;// CONCATENATED MODULE: ./src/core/settings.js



const CACHE_MODES = ['auto', 'registry', 'gha', 'local', 'inline', 'none'];
const ENGINES = ['auto', 'buildx', 'buildctl'];
/** Parses and validates all inputs, reporting every bad input at once. */
function readSettings(read, environment) {
    const { env, cwd } = environment;
    const problems = [];
    const str = (name, fallback = '') => {
        const v = read(name).trim();
        return v === '' ? fallback : v;
    };
    const bool = (name, fallback) => {
        const v = str(name).toLowerCase();
        if (v === '')
            return fallback;
        if (['true', 'yes', '1', 'on'].includes(v))
            return true;
        if (['false', 'no', '0', 'off'].includes(v))
            return false;
        problems.push({ input: name, message: `must be true or false, got "${read(name).trim()}"` });
        return fallback;
    };
    const choice = (name, options) => {
        const v = str(name, options[0]).toLowerCase();
        if (options.includes(v))
            return v;
        problems.push({ input: name, message: `must be one of ${options.join(', ')}; got "${v}"` });
        return options[0];
    };
    // Line numbers are kept (blank lines stay as ''); values after `=` stay verbatim, so only
    // leading indentation is removed.
    const lines = (name) => read(name)
        .split(/\r?\n/)
        .map(l => (l.trim() === '' ? '' : l.replace(/^\s+/, '')));
    const workingDirectory = external_node_path_namespaceObject.resolve(cwd, str('working-directory', '.'));
    const registry = str('registry').replace(/\/+$/, '');
    if (registry && /[:@]\S*$/.test(registry.split('/').slice(1).join('/'))) {
        problems.push({
            input: 'registry',
            message: `must be a repository without tag or digest (images are <registry>:<service>.<BUILD_ID>), got "${registry}"`
        });
    }
    const secrets = [];
    lines('secrets').forEach((l, i) => {
        if (l === '')
            return;
        const eq = l.indexOf('=');
        const id = eq < 0 ? '' : l.slice(0, eq).trim();
        if (!/^[A-Za-z0-9_.-]+$/.test(id)) {
            problems.push({ input: 'secrets', line: i + 1, message: 'each line must be id=value' });
            return;
        }
        secrets.push({ id, value: l.slice(eq + 1) });
    });
    const concurrencyRaw = str('concurrency');
    let concurrency = (0,external_node_os_namespaceObject.availableParallelism)();
    if (concurrencyRaw !== '') {
        concurrency = Number(concurrencyRaw);
        if (!Number.isInteger(concurrency) || concurrency < 1) {
            problems.push({
                input: 'concurrency',
                message: `must be a whole number >= 1, got "${concurrencyRaw}"`
            });
            concurrency = 1;
        }
    }
    const platforms = str('platforms')
        .split(',')
        .map(p => p.trim())
        .filter(Boolean);
    const absolute = (name) => {
        const v = str(name);
        return v === '' ? '' : external_node_path_namespaceObject.resolve(workingDirectory, v);
    };
    const settings = {
        app: str('app', defaultApp(env, workingDirectory)),
        rack: str('rack'),
        manifest: str('manifest', 'convox.yml'),
        workingDirectory,
        buildArgs: lines('build-args'),
        secrets,
        description: str('description'),
        development: bool('development', false),
        noCache: bool('no-cache', false),
        registry,
        registryUsername: str('registry-username'),
        registryPassword: read('registry-password'),
        dockerHubUsername: str('docker-hub-username'),
        dockerHubPassword: read('docker-hub-password'),
        dockerHubRegistry: str('docker-hub-registry', 'docker.io'),
        push: bool('push', registry !== ''),
        cache: choice('cache', CACHE_MODES),
        engine: choice('engine', ENGINES),
        builder: str('builder'),
        buildkitHost: str('buildkit-host', env.BUILDKIT_HOST ?? ''),
        platforms,
        concurrency,
        export: absolute('export'),
        uploadArtifact: str('upload-artifact'),
        rackUrl: str('rack-url', env.RACK_URL ?? ''),
        convoxHost: str('convox-host', 'console.convox.com'),
        convoxPassword: read('convox-password'),
        import: absolute('import'),
        promote: bool('promote', false),
        dryRun: bool('dry-run', false),
        summary: bool('summary', true)
    };
    if (!/^[a-z0-9][a-z0-9-]*$/.test(settings.app)) {
        problems.push({
            input: 'app',
            message: `"${settings.app}" is not a Convox app name (lowercase letters, digits and dashes)`
        });
    }
    if (settings.push && !settings.registry) {
        problems.push({ input: 'push', message: 'pushing needs a registry: set the "registry" input' });
    }
    if (Boolean(settings.registryUsername) !== Boolean(settings.registryPassword)) {
        problems.push({
            input: settings.registryUsername ? 'registry-password' : 'registry-username',
            message: 'registry-username and registry-password go together'
        });
    }
    if (Boolean(settings.dockerHubUsername) !== Boolean(settings.dockerHubPassword)) {
        problems.push({
            input: settings.dockerHubUsername ? 'docker-hub-password' : 'docker-hub-username',
            message: 'docker-hub-username and docker-hub-password go together'
        });
    }
    if (settings.uploadArtifact && !settings.export) {
        problems.push({ input: 'upload-artifact', message: 'needs "export", the tarball to upload' });
    }
    if (settings.import && settings.export) {
        problems.push({ input: 'import', message: 'import and export cannot be used together' });
    }
    if (problems.length > 0)
        throw new errors_UserError(problems);
    return settings;
}
/** The repository's name on GitHub, else the source directory's name, as an app name. */
function defaultApp(env, workingDirectory) {
    const repo = env.GITHUB_REPOSITORY?.split('/')[1] ?? external_node_path_namespaceObject.basename(workingDirectory);
    return repo
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, '-')
        .replace(/^-+|-+$/g, '');
}
/** Every secret value of the settings, for masking. */
function settingsSecrets(s) {
    const values = [
        s.registryPassword,
        s.dockerHubPassword,
        s.convoxPassword,
        ...s.secrets.map(x => x.value)
    ];
    try {
        if (s.rackUrl)
            values.push(decodeURIComponent(new URL(s.rackUrl).password));
    }
    catch {
        // an unparsable rack-url is reported by the rack client
    }
    return values.filter(v => v.length > 0);
}

;// CONCATENATED MODULE: ./src/core/pipeline.js
// The one entry point both shells call: plan, log in, build, export, and register on a rack.















async function runPipeline(settings, run) {
    const started = Date.now();
    const { logger, env } = run;
    for (const secret of settingsSecrets(settings))
        logger.mask(secret);
    const warnings = [];
    const tracked = {
        ...run,
        logger: {
            ...logger,
            warning: (message, where) => {
                warnings.push(message);
                logger.warning(message, where);
            }
        }
    };
    const rackOptions = rackClientOptions(settings);
    const rack = rackOptions
        ? new RackClient({ ...rackOptions, mask: s => logger.mask(s), logger })
        : undefined;
    if (settings.import) {
        if (!rack) {
            throw new errors_UserError({
                input: 'import',
                message: 'importing needs a rack: set rack-url (or RACK_URL), or convox-password and rack'
            });
        }
        return importPipeline(settings, tracked, rack, warnings, started);
    }
    // Manifest problems are reported before a missing commit: they are what users fix first.
    let gitProblem;
    const gitSha = await resolveGitSha(env, settings.workingDirectory, run.exec).catch(e => {
        if (!isUserError(e))
            throw e;
        gitProblem = e;
        return '';
    });
    const description = settings.description ||
        (gitSha ? await defaultDescription(gitSha, env, settings.workingDirectory, run.exec) : '');
    const planFor = (s, ids = {}) => createPlan(s, { env, gitSha, description, ...ids }, tracked.logger);
    // The whole manifest is checked before anything is created on a rack.
    let plan = await logger.group('Plan', () => planFor(settings));
    if (gitProblem)
        throw gitProblem;
    const result = (extra = {}) => ({
        plan: planOutput(plan),
        buildId: plan.buildId,
        releaseId: '',
        images: Object.fromEntries(plan.services.map(s => [s.name, s.image])),
        digests: {},
        services: [],
        exportPath: '',
        warnings,
        buildArgNames: [...new Set(plan.builds.flatMap(b => b.args))].sort(),
        ...extra,
        durationMs: Date.now() - started
    });
    if (settings.dryRun)
        return result();
    const buildStarted = preciseNow();
    let built;
    let releaseId;
    let rackLogs = '';
    if (rack) {
        const external = await runExternalBuild(rack, {
            app: settings.app,
            manifest: settings.manifest,
            manifestText: plan.manifestText,
            description,
            gitSha,
            development: settings.development,
            noCache: settings.noCache,
            logger: tracked.logger
        }, async (ctx) => {
            // The rack's repository unless the user pushes elsewhere; its build id is BUILD_ID.
            const target = settings.registry
                ? settings
                : {
                    ...settings,
                    registry: ctx.repository,
                    registryUsername: ctx.credentials.username,
                    registryPassword: ctx.credentials.password,
                    push: true
                };
            plan = await planFor(target, { buildId: ctx.buildId, rackName: ctx.rackName });
            try {
                built = await buildImages(plan, target, tracked);
            }
            catch (e) {
                // The rack keeps a failed build's output, then its ERROR line.
                if (e instanceof BuildFailure)
                    ctx.log(redactArgValues(plan, e.log));
                throw e;
            }
            return { images: built.images, entrypoint: built.entrypoint, logs: built.logs };
        });
        releaseId = external.releaseId;
        rackLogs = external.build.logs ?? '';
    }
    else {
        built = await buildImages(plan, settings, tracked);
        releaseId = newReleaseId();
    }
    built = built;
    let exportPath = '';
    if (settings.export) {
        exportPath = await logger.group('Export', async () => {
            const record = buildRecord({
                id: plan.buildId,
                app: plan.app,
                description,
                entrypoint: external_build_shellJoin(built.entrypoint),
                gitSha,
                logs: rackLogs || built.logs,
                manifest: plan.manifestText,
                release: releaseId,
                repository: plan.registry,
                status: 'complete',
                started: buildStarted,
                ended: preciseNow(),
                secrets: [...settingsSecrets(settings), ...secretArgValues(plan)]
            });
            const written = await writeExport(settings.export, record, built.exportSources, {
                tempDir: run.tempDir,
                platform: settings.platforms[0]
            });
            logger.info(`Exported build ${plan.buildId} to ${written.path}`);
            return written.path;
        });
    }
    if (rack && settings.promote)
        await promote(rack, settings, releaseId, tracked.logger);
    return result({
        releaseId,
        images: built.images,
        digests: Object.fromEntries(built.services.filter(s => s.digest).map(s => [s.name, s.digest])),
        services: built.services,
        exportPath
    });
}
async function importPipeline(settings, run, rack, warnings, started) {
    const { logger } = run;
    const imported = await logger.group('Import', () => runImport(rack, {
        app: settings.app,
        tarball: settings.import,
        logger,
        verifyImage: async (image) => {
            const client = new RegistryClient({
                credentials: host => host === image.credentials.registry ? image.credentials : undefined,
                logger
            });
            await client.getManifest(parseReference(image.ref));
        }
    }));
    if (settings.promote)
        await promote(rack, settings, imported.releaseId, logger);
    return {
        plan: {
            app: settings.app,
            buildId: imported.buildId,
            manifest: settings.manifest,
            gitSha: imported.build['git-sha'] ?? '',
            description: imported.build.description ?? '',
            development: settings.development,
            services: [],
            builds: []
        },
        buildId: imported.buildId,
        releaseId: imported.releaseId,
        images: imported.images,
        digests: {},
        services: [],
        exportPath: '',
        warnings,
        buildArgNames: [],
        durationMs: Date.now() - started
    };
}
async function promote(rack, settings, releaseId, logger) {
    await logger.group(`Promote ${releaseId}`, () => promoteRelease(rack, { app: settings.app, releaseId, logger }));
}
/** Values of build args that must never be written anywhere (BUILD_AUTH). */
function secretArgValues(plan) {
    return plan.builds.map(b => b.argValues.BUILD_AUTH ?? '').filter(Boolean);
}
/** Builds and pushes every image of the plan; then what the record and the export need. */
async function buildImages(plan, settings, run) {
    const tools = registryTools(loginsFromSettings(settings), settings.dockerHubRegistry, run.logger);
    const builds = await buildPlan(plan, settings, run, {
        tools,
        ociArchives: !settings.push && settings.export !== ''
    });
    const registry = tools.client;
    const first = plan.services[0];
    const entrypoint = settings.push && first
        ? (await getImageConfig(registry, parseReference(first.image), settings.platforms[0]))
            .entrypoint
        : [];
    const exportSources = plan.services.map((s) => {
        if (settings.push)
            return { service: s.name, client: registry, image: parseReference(s.image) };
        if (s.build !== null)
            return { service: s.name, ociTar: builds.ociArchives[s.build] ?? '' };
        return { service: s.name, client: registry, image: parseReference(s.from ?? '') };
    });
    return {
        images: Object.fromEntries(plan.services.map(s => [s.name, s.image])),
        services: builds.services,
        entrypoint,
        logs: redactArgValues(plan, builds.builds.map(b => `==> ${b.services.join(', ')}\n${b.log.trimEnd()}\n`).join('')),
        exportSources
    };
}
/**
 * BuildKit names steps with build-arg values expanded; the stored log (rack, build.json) keeps
 * the user's own values out, as it keeps them out of the plan and the summary.
 */
function redactArgValues(plan, text) {
    const values = new Set();
    for (const b of plan.builds) {
        for (const [name, value] of Object.entries(b.argValues)) {
            if ((!isManagedArg(name) || name === 'BUILD_AUTH') && value.length >= 3)
                values.add(value);
        }
    }
    let out = text;
    for (const v of [...values].sort((a, b) => b.length - a.length))
        out = out.split(v).join('***');
    return out;
}

;// CONCATENATED MODULE: ./src/cli/args.js

/** The settings flags: the action's inputs, same names (action-interface.md). */
const SETTING_FLAGS = [
    'app',
    'rack',
    'manifest',
    'working-directory',
    'build-args',
    'secrets',
    'description',
    'development',
    'no-cache',
    'registry',
    'registry-username',
    'registry-password',
    'docker-hub-username',
    'docker-hub-password',
    'docker-hub-registry',
    'push',
    'cache',
    'engine',
    'builder',
    'buildkit-host',
    'platforms',
    'concurrency',
    'export',
    'upload-artifact',
    'rack-url',
    'convox-host',
    'convox-password',
    'import',
    'promote',
    'dry-run',
    'summary'
];
/** Flags that stand alone (`--dry-run`) or take `=true|false`. */
const BOOLEAN_FLAGS = new Set([
    'development',
    'no-cache',
    'push',
    'promote',
    'dry-run',
    'summary'
]);
/** Flags given once per line of the input. */
const REPEATABLE_FLAGS = new Set(['build-args', 'secrets']);
/** Flags of the CLI alone. */
const CLI_FLAGS = new Set(['id', 'json', 'debug', 'help', 'version']);
const COMMANDS = ['plan', 'build'];
/** Parses `plan|build [--flag value|--flag=value|--bool]...`, reporting every mistake at once. */
function parseArgs(argv) {
    const problems = [];
    const parsed = {
        command: undefined,
        settings: new Map(),
        id: false,
        json: false,
        debug: false,
        help: false,
        version: false
    };
    const known = new Set(SETTING_FLAGS);
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '-h') {
            parsed.help = true;
            continue;
        }
        if (!arg.startsWith('--')) {
            if (parsed.command === undefined && COMMANDS.includes(arg)) {
                parsed.command = arg;
            }
            else if (parsed.command === undefined) {
                problems.push({ message: `unknown command "${arg}" (commands: ${COMMANDS.join(', ')})` });
            }
            else {
                problems.push({ message: `unexpected argument "${arg}"` });
            }
            continue;
        }
        const eq = arg.indexOf('=');
        const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
        const inline = eq < 0 ? undefined : arg.slice(eq + 1);
        const flag = `--${name}`;
        if (CLI_FLAGS.has(name)) {
            if (inline !== undefined) {
                problems.push({ input: flag, message: 'takes no value' });
                continue;
            }
            parsed[name] = true;
            continue;
        }
        if (!known.has(name)) {
            problems.push({ input: flag, message: 'unknown flag (see --help)' });
            continue;
        }
        let value;
        if (BOOLEAN_FLAGS.has(name)) {
            value = inline ?? 'true';
        }
        else if (inline !== undefined) {
            value = inline;
        }
        else if (i + 1 < argv.length) {
            value = argv[++i];
        }
        else {
            problems.push({ input: flag, message: 'needs a value' });
            continue;
        }
        const values = parsed.settings.get(name) ?? [];
        if (values.length > 0 && !REPEATABLE_FLAGS.has(name)) {
            problems.push({ input: flag, message: 'given more than once' });
            continue;
        }
        parsed.settings.set(name, [...values, value]);
    }
    if (problems.length > 0)
        throw new errors_UserError(problems);
    return parsed;
}
/** `build-args` to `CONVOX_BUILD_BUILD_ARGS`. */
function envName(setting) {
    return `CONVOX_BUILD_${setting.toUpperCase().replace(/-/g, '_')}`;
}
/** Settings as the core reads them: flags, then CONVOX_BUILD_<NAME>, then '' (the defaults). */
function settingsReader(args, env, overrides = {}) {
    return name => {
        if (name in overrides)
            return overrides[name];
        const values = args.settings.get(name);
        if (values)
            return values.join('\n');
        return env[envName(name)] ?? '';
    };
}

;// CONCATENATED MODULE: ./src/cli/help.js

/** One line per setting flag: what it takes and does (action.yml has the long form). */
const FLAG_HELP = {
    app: 'Convox app name (default: the directory or repository name)',
    rack: 'rack name (BUILD_RACK); with rack credentials, the rack to register with',
    manifest: 'manifest path relative to --working-directory (default: convox.yml)',
    'working-directory': 'the source root (default: .)',
    'build-args': 'NAME or NAME=VALUE; repeat the flag for each arg',
    secrets: 'BuildKit secret id=value; repeat the flag for each secret',
    description: 'build description (default: build <sha10> <commit subject>)',
    development: 'development build (target development where that stage exists)',
    'no-cache': 'build without any cache',
    registry: 'push repository, e.g. ghcr.io/acme/myapp',
    'registry-username': 'username for --registry',
    'registry-password': 'password for --registry',
    'docker-hub-username': 'Docker Hub login for pulls',
    'docker-hub-password': 'Docker Hub password or token',
    'docker-hub-registry': 'Docker Hub or a mirror of it (default: docker.io)',
    push: 'push images (default: true when --registry is set)',
    cache: 'auto, registry, gha, local, inline or none (default: auto)',
    engine: 'auto, buildx or buildctl (default: auto)',
    builder: 'buildx builder name',
    'buildkit-host': 'BuildKit daemon address for buildctl (default: $BUILDKIT_HOST)',
    platforms: 'target platforms, comma-separated',
    concurrency: 'most builds running at once (default: number of CPUs)',
    export: 'write a `convox builds import` tarball to this path',
    'upload-artifact': 'artifact name (GitHub Actions only)',
    'rack-url': 'https://convox:<password>@api.<domain> (default: $RACK_URL)',
    'convox-host': 'Console host (default: console.convox.com)',
    'convox-password': 'Console deploy key',
    import: 'import this export tarball into the app on the rack instead of building',
    promote: 'promote the release on the rack and wait',
    'dry-run': 'validate and plan only (what `plan` does)',
    summary: 'write the job summary (GitHub Actions only; default: true)'
};
function helpText() {
    const width = Math.max(...SETTING_FLAGS.map(f => usage(f).length));
    const lines = [
        'Usage: convox-build <command> [flags]',
        '',
        'Builds a Convox app with BuildKit, as the rack would build it.',
        '',
        'Commands:',
        '  plan    validate the manifest and print the build plan as JSON (no builder, no network)',
        '  build   build, push and export; prints "Build: B..." and "Release: R..." at the end',
        '',
        'Flags (each also read from the environment as CONVOX_BUILD_<NAME>, e.g.',
        `${envName('build-args')} with one arg per line):`,
        ...SETTING_FLAGS.map(f => `  ${usage(f).padEnd(width)}  ${FLAG_HELP[f]}`),
        '',
        'Output:',
        `  ${'--id'.padEnd(width)}  print only the release id on stdout (as convox build --id)`,
        `  ${'--json'.padEnd(width)}  print the full result as JSON on stdout`,
        `  ${'--debug'.padEnd(width)}  debug logs and stack traces`,
        `  ${'--help, -h'.padEnd(width)}  this help`,
        `  ${'--version'.padEnd(width)}  the version`,
        ''
    ];
    return lines.join('\n');
}
function usage(flag) {
    if (BOOLEAN_FLAGS.has(flag))
        return `--${flag}[=false]`;
    return `--${flag} <value>${REPEATABLE_FLAGS.has(flag) ? '...' : ''}`;
}

;// CONCATENATED MODULE: external "node:async_hooks"
const external_node_async_hooks_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:async_hooks");
;// CONCATENATED MODULE: ./src/cli/logger.js


/**
 * Logger on stderr: groups as `==> title`, and lines of a group running beside another one
 * (concurrent builds) prefixed with `[title]`. There is no runner to mask secrets: it scrubs
 * them itself.
 */
function createCliLogger(write = t => process.stderr.write(t), options = {}) {
    const secrets = new Set();
    const scope = new external_node_async_hooks_namespaceObject.AsyncLocalStorage();
    let openGroups = 0;
    const scrub = (text) => [...secrets].sort((a, b) => b.length - a.length).reduce((t, s) => t.split(s).join('***'), text);
    const line = (text) => {
        const title = scope.getStore();
        const body = title ? text.replace(/^/gm, `[${title}] `) : text;
        write(scrub(body) + '\n');
    };
    return {
        line,
        scrub,
        info: line,
        debug: message => {
            if (options.debug)
                line(`debug: ${message}`);
        },
        warning: (message, where) => line(`warning: ${formatProblem({ ...where, message })}`),
        mask: secret => {
            if (secret.trim() === '')
                return;
            secrets.add(secret);
            for (const l of secret.split(/\r?\n/))
                if (l.trim() !== '')
                    secrets.add(l.trim());
        },
        group: async (title, fn) => {
            line(`==> ${title}`);
            openGroups++;
            try {
                // Alone, a group's lines need no prefix; beside another, they do.
                return openGroups > 1 || scope.getStore() ? await scope.run(title, fn) : await fn();
            }
            finally {
                openGroups--;
            }
        }
    };
}
/** A problem as the CLI prints it: `file:line:col: message`, or `--flag: message`. */
function formatCliProblem(p) {
    if (p.file)
        return formatProblem(p);
    if (p.input) {
        const flag = p.input.startsWith('--') ? p.input : `--${p.input}`;
        return `${flag}${p.line !== undefined ? ` (line ${p.line})` : ''}: ${p.message}`;
    }
    return p.message;
}

;// CONCATENATED MODULE: ./src/cli/run.js











/** Runs `convox-build <argv>`; returns the exit code. */
async function runCli(argv, io) {
    const debug = argv.includes('--debug') || io.env.CONVOX_BUILD_DEBUG === 'true';
    const logger = createCliLogger(io.stderr, { debug });
    let args;
    try {
        args = parseArgs(argv);
    }
    catch (e) {
        return failed(e, logger, debug);
    }
    if (args.version) {
        io.stdout(`${packageVersion()}\n`);
        return 0;
    }
    if (args.help || args.command === undefined) {
        ;
        (args.help ? io.stdout : io.stderr)(helpText());
        return args.help ? 0 : 1;
    }
    let tempDir = '';
    try {
        const overrides = args.command === 'plan' ? { 'dry-run': 'true' } : {};
        // Secrets as given are scrubbed before anything is parsed (a bad input message may quote).
        const read = settingsReader(args, io.env, overrides);
        for (const name of ['registry-password', 'docker-hub-password', 'convox-password']) {
            logger.mask(read(name));
        }
        for (const l of read('secrets').split(/\r?\n/))
            logger.mask(l.slice(l.indexOf('=') + 1));
        const settings = readSettings(read, { env: io.env, cwd: io.cwd });
        settingsSecrets(settings).forEach(s => logger.mask(s));
        tempDir = await (0,promises_namespaceObject.mkdtemp)(external_node_path_namespaceObject.join((0,external_node_os_namespaceObject.tmpdir)(), 'convox-build-'));
        const run = {
            env: io.env,
            logger,
            exec: io.exec ?? spawnExec,
            github: io.env.GITHUB_ACTIONS === 'true',
            tempDir,
            localCacheDir: localCacheDir(io.env, settings.app)
        };
        const result = await (io.pipeline ?? runPipeline)(settings, run);
        const out = (text) => io.stdout(logger.scrub(text));
        if (args.json)
            out(JSON.stringify(result, null, 2) + '\n');
        else if (args.command === 'plan')
            out(JSON.stringify(result.plan, null, 2) + '\n');
        else if (args.id)
            out(`${result.releaseId}\n`);
        else {
            for (const l of serviceLines(result))
                logger.line(l);
            out(finalLines(result));
        }
        return 0;
    }
    catch (e) {
        return failed(e, logger, debug);
    }
    finally {
        if (tempDir)
            await (0,promises_namespaceObject.rm)(tempDir, { recursive: true, force: true }).catch(() => undefined);
    }
}
/** One line per service: name, image and digest, aligned. */
function serviceLines(result) {
    const width = Math.max(0, ...result.services.map(s => s.name.length));
    return result.services.map(s => {
        const digest = s.digest ? `  ${s.digest}` : '';
        return `${s.name.padEnd(width)}  ${s.image}${digest}`;
    });
}
/** The closing lines of `convox build`. */
function finalLines(result) {
    return `Build:   ${result.buildId}\nRelease: ${result.releaseId}\n`;
}
function failed(e, logger, debug) {
    if (isUserError(e)) {
        for (const p of e.problems)
            logger.line(formatCliProblem(p));
        return 1;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    logger.line(`error: ${err.message}`);
    if (debug && err.stack)
        logger.line(err.stack);
    return 1;
}
/** BuildKit's `local` cache between runs on this machine. */
function localCacheDir(env, app) {
    const base = env.XDG_CACHE_HOME || external_node_path_namespaceObject.join((0,external_node_os_namespaceObject.homedir)(), '.cache');
    return external_node_path_namespaceObject.join(base, 'convox-build', app);
}
/** The version of the package whose script runs (bin/convox-build.js, dist/cli.js). */
function packageVersion() {
    // From the script path, not import.meta.url: the bundler would copy a directory it can see.
    let dir = external_node_path_namespaceObject.dirname((0,external_node_fs_namespaceObject.realpathSync)(process.argv[1] ?? '.'));
    for (;;) {
        const file = external_node_path_namespaceObject.join(dir, 'package.json');
        if ((0,external_node_fs_namespaceObject.existsSync)(file)) {
            const pkg = JSON.parse((0,external_node_fs_namespaceObject.readFileSync)(file, 'utf8'));
            if (pkg.name === 'convox-build' && pkg.version)
                return pkg.version;
        }
        const parent = external_node_path_namespaceObject.dirname(dir);
        if (parent === dir)
            return 'unknown';
        dir = parent;
    }
}


/***/ })

/******/ });
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/asset-relocator-loader */
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = decodeURIComponent(new URL('.', import.meta.url).pathname).slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/******/ /* webpack/runtime/async module */
/******/ (() => {
/******/ 	var webpackQueues = typeof Symbol === "function" ? Symbol("webpack queues") : "__webpack_queues__";
/******/ 	var webpackExports = typeof Symbol === "function" ? Symbol("webpack exports") : "__webpack_exports__";
/******/ 	var webpackError = typeof Symbol === "function" ? Symbol("webpack error") : "__webpack_error__";
/******/ 	var resolveQueue = (queue) => {
/******/ 		if(queue && queue.d < 1) {
/******/ 			queue.d = 1;
/******/ 			queue.forEach((fn) => (fn.r--));
/******/ 			queue.forEach((fn) => (fn.r-- ? fn.r++ : fn()));
/******/ 		}
/******/ 	}
/******/ 	var wrapDeps = (deps) => (deps.map((dep) => {
/******/ 		if(dep !== null && typeof dep === "object") {
/******/ 			if(dep[webpackQueues]) return dep;
/******/ 			if(dep.then) {
/******/ 				var queue = [];
/******/ 				queue.d = 0;
/******/ 				dep.then((r) => {
/******/ 					obj[webpackExports] = r;
/******/ 					resolveQueue(queue);
/******/ 				}, (e) => {
/******/ 					obj[webpackError] = e;
/******/ 					resolveQueue(queue);
/******/ 				});
/******/ 				var obj = {};
/******/ 				obj[webpackQueues] = (fn) => (fn(queue));
/******/ 				return obj;
/******/ 			}
/******/ 		}
/******/ 		var ret = {};
/******/ 		ret[webpackQueues] = x => {};
/******/ 		ret[webpackExports] = dep;
/******/ 		return ret;
/******/ 	}));
/******/ 	__nccwpck_require__.a = (module, body, hasAwait) => {
/******/ 		var queue;
/******/ 		hasAwait && ((queue = []).d = -1);
/******/ 		var depQueues = new Set();
/******/ 		var exports = module.exports;
/******/ 		var currentDeps;
/******/ 		var outerResolve;
/******/ 		var reject;
/******/ 		var promise = new Promise((resolve, rej) => {
/******/ 			reject = rej;
/******/ 			outerResolve = resolve;
/******/ 		});
/******/ 		promise[webpackExports] = exports;
/******/ 		promise[webpackQueues] = (fn) => (queue && fn(queue), depQueues.forEach(fn), promise["catch"](x => {}));
/******/ 		module.exports = promise;
/******/ 		body((deps) => {
/******/ 			currentDeps = wrapDeps(deps);
/******/ 			var fn;
/******/ 			var getResult = () => (currentDeps.map((d) => {
/******/ 				if(d[webpackError]) throw d[webpackError];
/******/ 				return d[webpackExports];
/******/ 			}))
/******/ 			var promise = new Promise((resolve) => {
/******/ 				fn = () => (resolve(getResult));
/******/ 				fn.r = 0;
/******/ 				var fnQueue = (q) => (q !== queue && !depQueues.has(q) && (depQueues.add(q), q && !q.d && (fn.r++, q.push(fn))));
/******/ 				currentDeps.map((dep) => (dep[webpackQueues](fnQueue)));
/******/ 			});
/******/ 			return fn.r ? promise : getResult();
/******/ 		}, (err) => ((err ? reject(promise[webpackError] = err) : outerResolve(exports)), resolveQueue(queue)));
/******/ 		queue && queue.d < 0 && (queue.d = 0);
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/************************************************************************/
/******/ 
/******/ // startup
/******/ // Load entry module and return exports
/******/ // This entry module used 'module' so it can't be inlined
/******/ var __webpack_exports__ = __nccwpck_require__(9415);
/******/ __webpack_exports__ = await __webpack_exports__;
/******/ 
