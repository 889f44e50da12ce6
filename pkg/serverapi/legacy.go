package serverapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The legacy form of the API (Centrifugo internal/api/handler_legacy.go,
// to be removed in Centrifugo v7): POST <Prefix> with one or more
// newline-delimited {"id","method","params"} commands.

type legacyCommand struct {
	ID     uint32       `json:"id,omitempty"`
	Method legacyMethod `json:"method,omitempty"`
	Params Raw          `json:"params,omitempty"`
}

type legacyReply struct {
	ID     uint32 `json:"id,omitempty"`
	Error  *Error `json:"error,omitempty"`
	Result Raw    `json:"result,omitempty"`
}

// legacyMethods are the method numbers of apiproto Command.MethodType that
// this server serves; the rest of Centrifugo's names (PRO, map_*) decode
// but are answered 104.
var legacyMethods = map[int32]string{
	0: "publish", 1: "broadcast", 2: "unsubscribe", 3: "disconnect", 4: "presence",
	5: "presence_stats", 6: "history", 7: "history_remove", 8: "channels", 9: "info",
	10: "rpc", 11: "subscribe", 12: "refresh",
}

// legacyNames maps every Command.MethodType name Centrifugo v6.9.1 knows to
// its number.
var legacyNames = map[string]int32{
	"PUBLISH": 0, "BROADCAST": 1, "UNSUBSCRIBE": 2, "DISCONNECT": 3, "PRESENCE": 4,
	"PRESENCE_STATS": 5, "HISTORY": 6, "HISTORY_REMOVE": 7, "CHANNELS": 8, "INFO": 9,
	"RPC": 10, "SUBSCRIBE": 11, "REFRESH": 12, "CONNECTIONS": 14, "UPDATE_USER_STATUS": 15,
	"GET_USER_STATUS": 16, "DELETE_USER_STATUS": 17, "BLOCK_USER": 18, "UNBLOCK_USER": 19,
	"REVOKE_TOKEN": 20, "INVALIDATE_USER_TOKENS": 21, "DEVICE_REGISTER": 22, "DEVICE_UPDATE": 23,
	"DEVICE_REMOVE": 24, "DEVICE_LIST": 25, "DEVICE_TOPIC_LIST": 26, "DEVICE_TOPIC_UPDATE": 27,
	"USER_TOPIC_LIST": 28, "USER_TOPIC_UPDATE": 29, "SEND_PUSH_NOTIFICATION": 30,
	"UPDATE_PUSH_STATUS": 31, "CANCEL_PUSH": 32, "MAP_PUBLISH": 33, "MAP_REMOVE": 34,
	"MAP_READ_STATE": 35, "MAP_READ_STREAM": 36, "MAP_STATS": 37, "MAP_CLEAR": 38,
	"SHARED_POLL_PUBLISH": 39,
}

// legacyMethod is the method as a name in any case ("publish") or a number
// (0); a missing method is 0, publish, as in Centrifugo.
type legacyMethod int32

func (m *legacyMethod) UnmarshalJSON(data []byte) error {
	if len(data) > 2 {
		if v, ok := legacyNames[strings.ToUpper(string(data[1:len(data)-1]))]; ok {
			*m = legacyMethod(v)
			return nil
		}
	}
	v, err := strconv.Atoi(string(data))
	if err != nil {
		return err
	}
	*m = legacyMethod(v)
	return nil
}

// serveLegacy answers each command in turn. A stream that stops decoding
// is 400 for the whole request (even after good commands); params that do
// not decode are a 107 reply; an unknown method a 104 reply. Errors are
// always replies, whatever the error mode.
func (h *handler) serveLegacy(w http.ResponseWriter, r *http.Request, body []byte) {
	if len(body) == 0 {
		h.badRequest(w, r, io.ErrUnexpectedEOF)
		return
	}
	var out bytes.Buffer
	dec := json.NewDecoder(bytes.NewReader(body))
	for n := 0; ; n++ {
		var cmd legacyCommand
		if err := dec.Decode(&cmd); err == io.EOF {
			break
		} else if err != nil {
			h.badRequest(w, r, err)
			return
		}
		rep := legacyReply{ID: cmd.ID}
		name, ok := legacyMethods[int32(cmd.Method)]
		if !ok {
			rep.Error = ErrorNotFound
		} else {
			started := time.Now()
			res, e, err := h.methods[name](h, r.Context(), cmd.Params)
			switch {
			case err != nil:
				rep.Error = ErrorBadRequest
			case e != nil:
				rep.Error = e
			default:
				if rep.Result, err = json.Marshal(res); err != nil {
					h.log.Error("cannot encode API reply", zap.Error(err))
					http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
					return
				}
			}
			h.observe(name, rep.Error, started)
		}
		data, err := json.Marshal(&rep)
		if err != nil {
			h.log.Error("cannot encode API reply", zap.Error(err))
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		if n > 0 {
			out.WriteByte('\n')
		}
		out.Write(data)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out.Bytes())
}
