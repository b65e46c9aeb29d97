package apispec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound: no folder of API descriptions was found; tests that need one skip, saying so.
var ErrNotFound = errors.New("API descriptions not found")

// Find returns the folder of vendor API descriptions. fromEnv wins when set (callers pass
// os.Getenv("OPSBOT_SPECS_DIR")) and must then exist; otherwise the first existing candidate,
// otherwise ../shared/specs beside the module root (the nearest folder above the working
// directory that holds go.mod), which is where the project's checkout keeps them.
func Find(fromEnv string, candidates ...string) (string, error) {
	if fromEnv != "" {
		if !isDir(fromEnv) {
			return "", fmt.Errorf("%w: %s is not a folder", ErrNotFound, fromEnv)
		}
		return fromEnv, nil
	}
	if root, ok := moduleRoot(); ok {
		candidates = append(candidates, filepath.Join(root, "..", "shared", "specs"))
	}
	for _, dir := range candidates {
		if isDir(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w in %v", ErrNotFound, candidates)
}

func moduleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
