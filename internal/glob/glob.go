// Package glob matches channel names against the patterns of the server
// API's "channels" command: '*' stands for any run of bytes (none
// included), '?' for exactly one byte, every other byte for itself. Both
// the node's own channels (pkg/channels) and the cluster's merged view
// (pkg/cluster) answer that command, so they share this one matcher.
package glob

// Match reports whether name matches pattern as a whole. It backtracks to
// the last '*' only, so it runs in O(len(pattern)*len(name)) time and no
// allocation.
func Match(pattern, name string) bool {
	px, nx := 0, 0
	nextPx, nextNx := 0, 0
	for px < len(pattern) || nx < len(name) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				nextPx, nextNx = px, nx+1
				px++
				continue
			case '?':
				if nx < len(name) {
					px++
					nx++
					continue
				}
			default:
				if nx < len(name) && name[nx] == c {
					px++
					nx++
					continue
				}
			}
		}
		if 0 < nextNx && nextNx <= len(name) {
			px, nx = nextPx, nextNx
			continue
		}
		return false
	}
	return true
}
