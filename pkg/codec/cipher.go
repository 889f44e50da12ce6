package codec

import "github.com/gobwas/ws"

// Unmask XORs p in place with mask, starting at position offset of the
// masking key; masking and unmasking are the same operation. It uses
// gobwas/ws's word-at-a-time implementation (assembly on amd64).
func Unmask(p []byte, mask [4]byte, offset int) {
	ws.Cipher(p, mask, offset)
}
