package chatflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/difykit/chatflow"
)

// fakeDify serves two pages of conversations and accepts uploads, enough
// for the examples to run offline.
func fakeDify() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/conversations", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("last_id") == "" {
			io.WriteString(w, `{"limit":2,"has_more":true,"data":[
				{"id":"c3","name":"Trip to Rome","created_at":1732690300,"updated_at":1732690300},
				{"id":"c2","name":"Recipes","created_at":1732690200,"updated_at":1732690200}]}`)
			return
		}
		io.WriteString(w, `{"limit":2,"has_more":false,"data":[
			{"id":"c1","name":"Hello","created_at":1732690100,"updated_at":1732690100}]}`)
	})
	mux.HandleFunc("POST /v1/files/upload", func(w http.ResponseWriter, r *http.Request) {
		f, h, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n, _ := io.Copy(io.Discard, f)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{
			"id": "72fa9618-8f89-4a37-9b33-7e1178a24a67", "name": h.Filename, "size": n,
			"mime_type": h.Header.Get("Content-Type"), "created_at": 1732690000,
		})
	})
	return httptest.NewServer(mux)
}

func ExampleClient_Conversations() {
	srv := fakeDify()
	defer srv.Close()
	c, err := chatflow.NewClient("app-your-key", chatflow.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		log.Fatal(err)
	}
	// Pages are fetched as the loop goes; breaking out stops fetching.
	for conv, err := range c.Conversations(context.Background(), "user-123", chatflow.WithPageSize(2)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(conv.ID, conv.Name)
	}
	// Output:
	// c3 Trip to Rome
	// c2 Recipes
	// c1 Hello
}

func ExampleClient_UploadFile() {
	srv := fakeDify()
	defer srv.Close()
	c, err := chatflow.NewClient("app-your-key", chatflow.WithBaseURL(srv.URL+"/v1"))
	if err != nil {
		log.Fatal(err)
	}
	// Any io.Reader works; an *os.File is streamed, never read into memory,
	// and can be retried because it can seek.
	f, err := c.UploadFile(context.Background(), "user-123", "notes.md", strings.NewReader("# Meeting notes\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Name, f.Size, f.MimeType)
	// Use it in a chat message:
	file := chatflow.InputFile{TransferMethod: "local_file", Type: "document", UploadFileID: f.ID}
	fmt.Println(file.UploadFileID)
	// Output:
	// notes.md 16 text/markdown
	// 72fa9618-8f89-4a37-9b33-7e1178a24a67
}
