// BasaltVector: see docs/ARCHITECTURE.md for what this module holds.
import BasaltCore
