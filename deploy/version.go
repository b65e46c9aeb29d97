package deploy

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// compareVersions orders two release tags by semantic version (golang.org/x/mod/semver, the
// Go toolchain's own implementation, so pre-releases sort before their release).
func compareVersions(a, b string) int { return semver.Compare(a, b) }

// nextPatch suggests the version after v, e.g. v1.4.2 → v1.4.3.
func nextPatch(v string) string {
	core := strings.TrimPrefix(semver.Canonical(v), "v")
	core, _, _ = strings.Cut(core, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return "v1.0.0"
	}
	patch, err := strconv.Atoi(parts[2])
	if err != nil {
		return "v1.0.0"
	}
	return fmt.Sprintf("v%s.%s.%d", parts[0], parts[1], patch+1)
}
