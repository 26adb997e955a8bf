import CLibUV

/// A run of outgoing bytes in memory the connection owns until libuv reports the write done.
struct WriteChunk {
    /// Size of the recycled chunks small writes are packed into.
    static let standardSize = 64 * 1024

    let base: UnsafeMutableRawPointer
    let capacity: Int
    var count: Int

    var free: Int { capacity - count }
}

/// The chunks of one `uv_write`, kept alive until its callback.
private final class WriteRequest {
    let connection: TCPConnection
    let chunks: [WriteChunk]
    let byteCount: Int

    init(connection: TCPConnection, chunks: [WriteChunk], byteCount: Int) {
        self.connection = connection
        self.chunks = chunks
        self.byteCount = byteCount
    }
}

extension TCPConnection {
    /// Bytes waiting to be written: buffered here plus handed to libuv and not yet completed.
    public var queuedWriteBytes: Int { pendingBytes + inFlightBytes }

    /// Queues `bytes` for writing (copied; the caller keeps its buffer).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(TCPError) {
        guard bytes.count > 0 else { return }
        let region = try reserve(bytes.count)
        region.copyMemory(from: bytes)
    }

    /// Queues `bytes` for writing.
    public func write(_ bytes: [UInt8]) throws(TCPError) {
        guard !bytes.isEmpty else { return }
        let region = try reserve(bytes.count)
        bytes.withUnsafeBytes { region.copyMemory(from: $0) }
    }

    /// Queues `byteCount` bytes that `encode` writes straight into the outgoing buffer (no
    /// intermediate array). `encode` must initialise all `byteCount` bytes.
    @inlinable
    public func write(byteCount: Int, _ encode: (UnsafeMutableRawBufferPointer) -> Void) throws(TCPError) {
        guard byteCount > 0 else { return }
        encode(try reserve(byteCount))
    }

    /// Room for `n` more bytes at the end of the queue, counted as queued. Loop thread only.
    @usableFromInline
    func reserve(_ n: Int) throws(TCPError) -> UnsafeMutableRawBufferPointer {
        loop.assertInEventLoop()
        guard state == .open else { throw .notOpen(peer: peerDescription) }
        let queued = queuedWriteBytes
        if queued + n > options.maxQueuedWriteBytes {
            throw .writeQueueFull(peer: peerDescription, queued: queued, adding: n, limit: options.maxQueuedWriteBytes)
        }
        if pendingChunks.isEmpty || pendingChunks[pendingChunks.count - 1].free < n {
            pendingChunks.append(makeChunk(atLeast: n))
        }
        let last = pendingChunks.count - 1
        let start = pendingChunks[last].base + pendingChunks[last].count
        pendingChunks[last].count += n
        pendingBytes += n
        if !flushScheduled {
            flushScheduled = true
            loop.scheduleFlush(self)
        }
        if isWritable && queuedWriteBytes > options.writeHighWatermark {
            isWritable = false
            onWritabilityChanged?(false)
        }
        return UnsafeMutableRawBufferPointer(start: start, count: n)
    }

    func makeChunk(atLeast n: Int) -> WriteChunk {
        if n <= WriteChunk.standardSize {
            let base = loop.spareChunks.popLast()
                ?? UnsafeMutableRawPointer.allocate(byteCount: WriteChunk.standardSize, alignment: 16)
            return WriteChunk(base: base, capacity: WriteChunk.standardSize, count: 0)
        }
        return WriteChunk(base: .allocate(byteCount: n, alignment: 16), capacity: n, count: 0)
    }

    func recycle(_ chunk: WriteChunk) {
        if chunk.capacity == WriteChunk.standardSize && loop.spareChunks.count < EventLoop.maxSpareChunks
            && !loop.isShuttingDown
        {
            loop.spareChunks.append(chunk.base)
        } else {
            chunk.base.deallocate()
        }
    }

    func discardPendingWrites() {
        for chunk in pendingChunks { recycle(chunk) }
        pendingChunks.removeAll()
        pendingBytes = 0
    }

    /// Hands every buffered chunk to libuv in one `uv_write` (libuv tries the `writev` at once and
    /// finishes asynchronously if the socket is full). Called by the loop before it polls.
    func flush() {
        flushScheduled = false
        guard state == .open || state == .closing, uv_is_closing(uvHandle) == 0 else { return }
        if let tls {
            flushTLS(tls)
            return
        }
        guard !pendingChunks.isEmpty else { return }
        let chunks = pendingChunks
        let byteCount = pendingBytes
        pendingChunks.removeAll(keepingCapacity: true)
        pendingBytes = 0
        submitWrite(chunks, byteCount: byteCount)
    }

    /// One `uv_write` of `chunks` (`byteCount` bytes in all), which it owns until the write is done.
    func submitWrite(_ chunks: [WriteChunk], byteCount: Int) {
        inFlightBytes += byteCount

        let context = Unmanaged.passRetained(WriteRequest(connection: self, chunks: chunks, byteCount: byteCount))
        let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        request.pointee.data = context.toOpaque()
        // libuv copies the uv_buf_t array into the request, so it may live on the stack.
        let rc = withUnsafeTemporaryAllocation(of: uv_buf_t.self, capacity: chunks.count) { bufs in
            for (i, chunk) in chunks.enumerated() {
                bufs[i] = uv_buf_init(chunk.base.assumingMemoryBound(to: CChar.self), UInt32(chunk.count))
            }
            return uv_write(request, stream, bufs.baseAddress, UInt32(chunks.count)) { request, status in
                guard let request, let data = request.pointee.data else { return }
                let context = Unmanaged<WriteRequest>.fromOpaque(data).takeRetainedValue()
                request.deallocate()
                context.connection.didWrite(context, status: status)
            }
        }
        if rc != 0 {
            context.release()
            request.deallocate()
            inFlightBytes -= byteCount
            for chunk in chunks { recycle(chunk) }
            close(.error("write failed: \(UVError.describe(rc))"))
        }
    }

    private func didWrite(_ request: WriteRequest, status: Int32) {
        inFlightBytes -= request.byteCount
        for chunk in request.chunks { recycle(chunk) }
        if status < 0 {
            if status != UV_ECANCELED.rawValue {
                close(.error("write failed: \(UVError.describe(status))"))
            }
            return
        }
        bytesWritten &+= UInt64(request.byteCount)
        if !isWritable && queuedWriteBytes <= options.writeLowWatermark && state == .open {
            isWritable = true
            onWritabilityChanged?(true)
        }
    }

    /// Queues `bytes` from any thread (hops to the loop). A write that fails (queue full, closed)
    /// closes the connection with that error, since the stream would otherwise have a gap.
    public func send(_ bytes: [UInt8]) {
        guard loop.inEventLoop else {
            loop.execute { self.send(bytes) }
            return
        }
        do {
            try write(bytes)
        } catch {
            if case .writeQueueFull = error { close(.local(error.description)) }
        }
    }
}
