package channels

// ErrorCode returns the protocol code: the server API (pkg/serverapi) reads
// a Node's errors through this method, since it cannot import channels.
func (e *Error) ErrorCode() uint32 { return e.Code }
