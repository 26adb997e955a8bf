import BasaltCore
@testable import BasaltStorage
import Testing

@Suite struct MemtableHardLimitTests {
    /// Flushing starts above the limit; writes are refused (non-blocking) only above the hard limit.
    @Test func hardLimitIsWhereWritesWait() {
        let stalls = BucketHistogram.latency()
        let m = MemtableMemory(limit: 1 << 20, hardLimit: 3 << 20)
        m.add(2 << 20)
        #expect(m.isAboveFlushThreshold)
        #expect(m.waitForRoom(mayBlock: false, timeoutNanos: 0, stalls: stalls))
        m.add(2 << 20)
        #expect(!m.waitForRoom(mayBlock: false, timeoutNanos: 0, stalls: stalls))
        m.release(2 << 20)
        #expect(m.waitForRoom(mayBlock: false, timeoutNanos: 0, stalls: stalls))
        // Unset, the hard limit is twice the limit; never below the limit.
        #expect(MemtableMemory(limit: 4 << 20).hardLimit == 8 << 20)
        #expect(MemtableMemory(limit: 4 << 20, hardLimit: 1 << 20).hardLimit == 4 << 20)
    }
}
