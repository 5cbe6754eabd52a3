package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/difykit/chatflow"
)

// input is one -i flag: a name and either a value or a file to upload.
type input struct {
	name  string
	value any    // the value, when file is empty
	file  string // the path of a file to upload (-i name=@path)
}

// inputList is the parsed -i flags, in order.
type inputList []input

// parseInputs parses -i flags:
//
//	name=text     the string text, exactly as written (may be empty)
//	name=@path    the file at path, uploaded and passed as a file variable
//	name:=JSON    the JSON value (number, bool, object, array, string, null)
//
// A string that starts with @ is written as JSON: name:='"@text"'.
func parseInputs(flags []string) (inputList, error) {
	var out inputList
	for _, f := range flags {
		eq := strings.IndexByte(f, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("-i %q: want name=text, name=@file or name:=JSON", f)
		}
		name, val := f[:eq], f[eq+1:]
		switch {
		case strings.HasSuffix(name, ":"):
			name = strings.TrimSuffix(name, ":")
			var v any
			if err := json.Unmarshal([]byte(val), &v); err != nil {
				return nil, fmt.Errorf("-i %s:=%s: not valid JSON (%v); for a plain string write -i %s=%s", name, val, err, name, val)
			}
			out = append(out, input{name: name, value: v})
		case strings.HasPrefix(val, "@"):
			if len(val) == 1 {
				return nil, fmt.Errorf("-i %s=@: a file path must follow @", name)
			}
			out = append(out, input{name: name, file: val[1:]})
		default:
			out = append(out, input{name: name, value: val})
		}
		if name == "" {
			return nil, fmt.Errorf("-i %q: the variable name is empty", f)
		}
	}
	return out, nil
}

// checkFiles reports the first -i name=@path whose file cannot be read.
func (l inputList) checkFiles() error {
	for _, in := range l {
		if in.file == "" {
			continue
		}
		if err := checkFile(in.file); err != nil {
			return fmt.Errorf("chatflow: -i %s=@%s: %w", in.name, in.file, err)
		}
	}
	return nil
}

// resolve uploads the files and returns the inputs of a chat request. A
// later -i of the same name replaces an earlier one.
func (l inputList) resolve(ctx context.Context, g *globals, e env) (map[string]any, error) {
	values := map[string]any{}
	for _, in := range l {
		if in.file == "" {
			values[in.name] = in.value
			continue
		}
		up, err := uploadPath(ctx, g, in.file)
		if err != nil {
			return nil, fmt.Errorf("chatflow: -i %s=@%s: %w", in.name, in.file, err)
		}
		fmt.Fprintf(e.stderr, "uploaded %s as %s for input %s\n", filepath.Base(in.file), up.ID, in.name)
		values[in.name] = fileInput(up.ID, fileType(in.file))
	}
	return values, nil
}

// fileInput is the value of a file input variable that refers to an
// uploaded file.
func fileInput(uploadID string, typ chatflow.FileType) map[string]any {
	return map[string]any{
		"transfer_method": "local_file",
		"upload_file_id":  uploadID,
		"type":            string(typ),
	}
}

// buildDetails describes the build: module version and VCS revision when
// recorded, and the Go version and platform.
func buildDetails() string {
	var parts []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			parts = append(parts, "module "+v)
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				parts = append(parts, "revision "+s.Value[:12])
			}
		}
	}
	parts = append(parts, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return " (" + strings.Join(parts, ", ") + ")"
}
