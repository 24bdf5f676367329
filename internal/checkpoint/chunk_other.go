//go:build !unix

package checkpoint

// mapChunk returns n heap bytes (no anonymous mappings on this platform).
func mapChunk(n int) ([]byte, bool) { return make([]byte, n), false }

// unmapChunk is never called on this platform (mapChunk maps nothing).
func unmapChunk([]byte) {}
