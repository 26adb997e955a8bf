#!/usr/bin/env python3
"""The disk's own commit-log sync latency, without Basalt: appends RECORD bytes and calls fdatasync,
RATE times a second, COUNT times, on a file written with zeros beforehand (as Basalt's preallocated
commit-log segments are), and prints the latency percentiles. Run several at once to see what
several nodes sharing one disk get.

    python3 Benchmarks/fsync-latency.py                       # 5,000 syncs at 500/s in /tmp
    python3 Benchmarks/fsync-latency.py --copies 3            # three writers at once, as three nodes
    python3 Benchmarks/fsync-latency.py --dir /data --rate 1000 --count 10000
"""
import argparse
import multiprocessing
import os
import tempfile
import time


def run(directory, count, rate, record):
    fd, path = tempfile.mkstemp(prefix="fsync-latency-", dir=directory)
    try:
        os.write(fd, b"\0" * max(64 << 20, count * record))
        os.fsync(fd)
        os.lseek(fd, 0, os.SEEK_SET)
        payload = b"x" * record
        latencies = []
        start = time.monotonic()
        for i in range(count):
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            t = time.monotonic()
            os.write(fd, payload)
            os.fdatasync(fd)
            latencies.append(time.monotonic() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    return f"{count} syncs at {rate:g}/s: p50 {q(.5):.2f} ms, p99 {q(.99):.2f} ms, p99.9 {q(.999):.2f} ms, max {latencies[-1] * 1000:.2f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--record", type=int, default=1500, help="bytes appended before each sync")
    parser.add_argument("--copies", type=int, default=1, help="writers at once, each on its own file")
    args = parser.parse_args()
    with multiprocessing.Pool(args.copies) as pool:
        for line in pool.starmap(run, [(args.dir, args.count, args.rate, args.record)] * args.copies):
            print(line)


if __name__ == "__main__":
    main()
