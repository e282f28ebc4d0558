// Package archtest holds tests of the module's architecture: which of its packages may import
// which. It has no code of its own.
package archtest
