// Package gencommon holds what the generator commands of internal/cmd
// share: their common flags, the end of main, and the writing of a
// formatted Go file.
package gencommon

import (
	"flag"
	"go/format"
	"log"
	"os"
)

// SpecFlag defines -spec, the API description.
func SpecFlag() *string {
	return flag.String("spec", "openapi/chatflow.json", "the API description")
}

// Main parses the command line, then calls run, and exits with
// "name: error" if it fails.
func Main(name string, run func() error) {
	flag.Parse()
	if err := run(); err != nil {
		log.Fatalf("%s: %v", name, err)
	}
}

// WriteGo formats src as Go source and writes it to path.
func WriteGo(path string, src []byte) error {
	src, err := format.Source(src)
	if err != nil {
		return err
	}
	return os.WriteFile(path, src, 0o644)
}
