package formattest

import (
	"encoding/base64"
	"encoding/json"
)

// NPMManifestTarball builds the tarball of name@version that holds
// package/package.json alone, and its dist digests as npm lists them:
// shasum (hex SHA-1) and integrity (SRI SHA-512).
func NPMManifestTarball(name, version string) (tgz []byte, shasum, integrity string) {
	pj, err := json.Marshal(map[string]string{"name": name, "version": version})
	must(err)
	tgz = TarGz(File{Name: "package/package.json", Body: pj})
	return tgz, SHA1(tgz), NPMIntegrity(tgz)
}

// NPMPublishBody is the document `npm publish` PUTs for name@version
// (unscoped) with NPMManifestTarball's tarball: the one version, tagged
// latest, and the tarball as its attachment. edit, when not nil, adds
// members to the version's manifest.
func NPMPublishBody(name, version string, edit func(manifest map[string]any)) []byte {
	tgz, shasum, integrity := NPMManifestTarball(name, version)
	file := name + "-" + version + ".tgz"
	v := map[string]any{"name": name, "version": version, "_id": name + "@" + version,
		"dist": map[string]string{"shasum": shasum, "integrity": integrity, "tarball": "http://client.invalid/" + name + "/-/" + file}}
	if edit != nil {
		edit(v)
	}
	b, err := json.Marshal(map[string]any{"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions":     map[string]any{version: v},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}}})
	must(err)
	return b
}
