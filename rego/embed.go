// Package rego embeds the default policy's Rego files, this folder and lib/, in
// the binaries. Tests (*_test.rego) are embedded too and left out at load time;
// examples/ is not embedded.
package rego

import "embed"

// Files holds *.rego and lib/*.rego.
//
//go:embed *.rego lib/*.rego
var Files embed.FS
