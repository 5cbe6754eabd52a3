// Package filekind is the one table of file name extensions the library
// knows: the kind of file Dify files an upload under (image, document,
// audio, video, or custom for the rest) and the media type sent for it, so
// that neither depends on the machine's MIME tables. The client's uploads,
// its speech-to-text, the fake server and the CLI all read it.
package filekind

import "strings"

// Kind is a file type as Dify names it in a chat message's files.
type Kind string

// The kinds of files Dify tells apart.
const (
	Image    Kind = "image"
	Document Kind = "document"
	Audio    Kind = "audio"
	Video    Kind = "video"
	Custom   Kind = "custom"
)

// entry is what the table knows of one extension.
type entry struct {
	kind Kind   // Custom: Dify files it under no kind of its own
	typ  string // the media type of an upload
	// speech is the media type for speech-to-text, which checks the
	// subtype against its list of audio extensions; "" when the extension
	// is not one it takes.
	speech string
}

// table lists, by lower-case extension with its dot, the extensions of
// each kind in Dify's lists and the media types of common files.
var table = map[string]entry{
	".jpg":  {Image, "image/jpeg", ""},
	".jpeg": {Image, "image/jpeg", ""},
	".png":  {Image, "image/png", ""},
	".gif":  {Image, "image/gif", ""},
	".webp": {Image, "image/webp", ""},
	".svg":  {Image, "image/svg+xml", ""},

	".txt":        {Document, "text/plain", ""},
	".md":         {Document, "text/markdown", ""},
	".markdown":   {Document, "text/markdown", ""},
	".mdx":        {Document, "text/markdown", ""},
	".pdf":        {Document, "application/pdf", ""},
	".html":       {Document, "text/html", ""},
	".htm":        {Document, "text/html", ""},
	".csv":        {Document, "text/csv", ""},
	".xml":        {Document, "application/xml", ""},
	".doc":        {Document, "application/msword", ""},
	".docx":       {Document, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ""},
	".xls":        {Document, "application/vnd.ms-excel", ""},
	".xlsx":       {Document, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ""},
	".ppt":        {Document, "application/vnd.ms-powerpoint", ""},
	".pptx":       {Document, "application/vnd.openxmlformats-officedocument.presentationml.presentation", ""},
	".epub":       {Document, "application/epub+zip", ""},
	".eml":        {Document, "message/rfc822", ""},
	".msg":        {Document, "application/vnd.ms-outlook", ""},
	".vtt":        {Document, "text/vtt", ""},
	".properties": {Document, "text/plain", ""},

	".mp3":  {Audio, "audio/mpeg", "audio/mpeg"},
	".mpga": {Audio, "audio/mpeg", "audio/mpeg"},
	".m4a":  {Audio, "audio/m4a", "audio/m4a"},
	".wav":  {Audio, "audio/wav", "audio/wav"},
	".amr":  {Audio, "audio/amr", "audio/amr"},

	".mp4":  {Video, "video/mp4", "audio/mp4"},
	".mov":  {Video, "video/quicktime", ""},
	".mpeg": {Video, "video/mpeg", "audio/mpeg"},
	".webm": {Video, "video/webm", "audio/webm"},

	".json": {Custom, "application/json", ""},
	".bmp":  {Custom, "image/bmp", ""},
	".ogg":  {Custom, "audio/ogg", ""},
	".flac": {Custom, "audio/flac", ""},
	".aac":  {Custom, "audio/aac", ""},
}

// Ext returns the extension of the file name name, lower-cased, with its
// dot: what follows the last dot of its last element (after a slash or a
// backslash), or "" when that element has no dot.
func Ext(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		switch name[i] {
		case '.':
			return strings.ToLower(name[i:])
		case '/', '\\':
			return ""
		}
	}
	return ""
}

// Of returns the kind of file Dify files name under: Custom for an
// extension of no other kind.
func Of(name string) Kind {
	if e, ok := table[Ext(name)]; ok {
		return e.kind
	}
	return Custom
}

// MediaType returns the media type of a file named name, and whether the
// table knows its extension.
func MediaType(name string) (string, bool) {
	e, ok := table[Ext(name)]
	return e.typ, ok
}

// SpeechType returns the media type to send a file named name to
// speech-to-text with, and whether its extension is one that takes.
func SpeechType(name string) (string, bool) {
	e := table[Ext(name)]
	return e.speech, e.speech != ""
}
