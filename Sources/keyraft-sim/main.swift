// keyraft-sim: runs the real Keyraft node code under simulated faults, from a seed.
import Foundation
import Simulation

let exitCode = SimCommand.main(Array(CommandLine.arguments.dropFirst()))
exit(exitCode)
