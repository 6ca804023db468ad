package respsnapshot

// WriteBytes is writeBytes, for the tests.
const WriteBytes = writeBytes
