//go:build race

package policy

// raceDetector is true under go test -race, whose instrumentation allocates
// on its own: allocation bounds measure the detector then, not the code.
const raceDetector = true
