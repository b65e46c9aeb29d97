// Package opsbot holds the files at the root of the repository that the binary carries: the Slack
// app manifest (manifest.yml) and the documented example configuration (opsbot.example.yaml).
// Embedding them means `opsbot manifest` can never drift from the file people read.
package opsbot

import _ "embed"

// Manifest is manifest.yml, the Slack app manifest.
//
//go:embed manifest.yml
var Manifest string

// ExampleConfig is opsbot.example.yaml.
//
//go:embed opsbot.example.yaml
var ExampleConfig string
