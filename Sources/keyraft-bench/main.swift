// keyraft-bench: benchmarks that print numbers. Build in release:
//   swift build -c release --product keyraft-bench && .build/release/keyraft-bench crypto
import Foundation
import KMS
import KeyraftCrypto

let usage = """
    usage: keyraft-bench crypto|storage [--seconds S]
      crypto   AES-256-GCM seal/open throughput at 32 B, 1 KiB, 4 KiB and ciphertext blob encode/decode cost
      storage  synced RocksDB write batches through the node's storage (1, 10, 100 entries per batch)
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    print(usage)
    exit(2)
}
arguments.removeFirst()
var secondsPerCase = 1.0
while let flag = arguments.first {
    arguments.removeFirst()
    switch flag {
    case "--seconds":
        guard let value = arguments.first.flatMap(Double.init), value > 0, value <= 60 else {
            print("--seconds needs a number in (0, 60]")
            exit(2)
        }
        arguments.removeFirst()
        secondsPerCase = value
    default:
        print("unknown flag \(flag)\n\(usage)")
        exit(2)
    }
}

do {
    switch command {
    case "crypto": try CryptoBenchmark(secondsPerCase: secondsPerCase).run()
    case "storage": try StorageBenchmark(secondsPerCase: secondsPerCase).run()
    default:
        print(usage)
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("keyraft-bench: \(error)\n".utf8))
    exit(1)
}
