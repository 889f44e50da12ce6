package serverapi

import (
	"errors"
	"net/http"
)

// The errors the API answers with (Centrifugo internal/apiproto/errors.go).
// 104 and 113 carry the API's messages, not the client protocol's
// ("method not found").
var (
	ErrorInternal              = &Error{Code: 100, Message: "internal server error"}
	ErrorUnknownChannel        = &Error{Code: 102, Message: "unknown channel"}
	ErrorNotFound              = &Error{Code: 104, Message: "not found"}
	ErrorBadRequest            = &Error{Code: 107, Message: "bad request"}
	ErrorNotAvailable          = &Error{Code: 108, Message: "not available"}
	ErrorUnrecoverablePosition = &Error{Code: 112, Message: "unrecoverable position"}
	ErrorConflict              = &Error{Code: 113, Message: "conflict"}
)

// coded is what a Node's protocol errors (*channels.Error) offer; the API
// reads the code through it so that serverapi needs no import of channels
// (which imports serverapi).
type coded interface {
	error
	ErrorCode() uint32
}

// apiError maps an error returned by a Node to the API error Centrifugo
// answers in the same case: the codes the API knows keep their code with
// the API's message; anything else (including codes the API never returns,
// such as 103) is 100, as Centrifugo answers 100 for every failure of its
// node that is not a validation error.
func apiError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var c coded
	if errors.As(err, &c) {
		switch c.ErrorCode() {
		case 102:
			return ErrorUnknownChannel
		case 104:
			return ErrorNotFound
		case 107:
			return ErrorBadRequest
		case 108:
			return ErrorNotAvailable
		case 112:
			return ErrorUnrecoverablePosition
		case 113:
			return ErrorConflict
		}
	}
	return ErrorInternal
}

// httpStatus is the status of an error in transport error mode
// (apiproto.MapErrorToHTTPCode).
func httpStatus(e *Error) int {
	switch e.Code {
	case 102, 104:
		return http.StatusNotFound
	case 107, 108:
		return http.StatusBadRequest
	case 112:
		return http.StatusRequestedRangeNotSatisfiable
	case 113:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
