//! Builds marketplace archives (.zip, .tar.gz), well-formed and hostile.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

/// A file to put in an archive: path, exec bit, content.
pub type FileSpec = (String, bool, Vec<u8>);

/// A zip of `files`, deflated, with unix modes.
pub fn zip_of(files: &[FileSpec]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, exec, content) in files {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(if *exec { 0o755 } else { 0o644 });
        w.start_file(path.as_str(), opts).expect("zip entry");
        w.write_all(content).unwrap();
    }
    w.finish().expect("zip finish").into_inner()
}

/// A tar.gz of `files` (paths taken as raw bytes, so hostile names work).
pub fn tar_gz_of(files: &[(Vec<u8>, bool, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (path, exec, content) in files {
        let mut h = tar::Header::new_gnu();
        // Write the name bytes directly: set_path would refuse `..` and friends.
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path);
        h.set_size(content.len() as u64);
        h.set_mode(if *exec { 0o755 } else { 0o644 });
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, content.as_slice()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// A tar.gz with one symlink entry next to `files`.
pub fn tar_gz_with_symlink(files: &[FileSpec], link: &str, target: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (path, exec, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).unwrap();
        h.set_size(content.len() as u64);
        h.set_mode(if *exec { 0o755 } else { 0o644 });
        h.set_cksum();
        b.append(&h, content.as_slice()).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_path(link).unwrap();
    h.set_link_name(target).unwrap();
    h.set_size(0);
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
    b.into_inner().unwrap().finish().unwrap()
}

/// A zip whose first entry is flagged encrypted (general-purpose bit 0 set
/// in both the local and the central header).
pub fn zip_with_encrypted_entry(files: &[FileSpec]) -> Vec<u8> {
    let mut z = zip_of(files);
    let local = z.windows(4).position(|w| w == b"PK\x03\x04").unwrap();
    z[local + 6] |= 1;
    let central = z.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    z[central + 8] |= 1;
    z
}

/// The standard test marketplace named `name`: plugins `alpha` (with an
/// executable script), `beta`, `gamma` (each with a `plugin.json` whose
/// version is `version`), and `remote` (an external GitHub source).
pub fn marketplace(name: &str, version: &str) -> Vec<FileSpec> {
    let manifest = format!(
        r#"{{"name":"{name}","owner":{{"name":"Test"}},"plugins":[
  {{"name":"alpha","source":"./plugins/alpha","description":"Alpha plugin"}},
  {{"name":"beta","source":"./plugins/beta","description":"Beta plugin"}},
  {{"name":"gamma","source":"./plugins/gamma","description":"Gamma plugin"}},
  {{"name":"remote","source":{{"source":"github","repo":"example/remote"}},"description":"External"}}
]}}"#
    );
    let mut files: Vec<FileSpec> = vec![
        (
            ".claude-plugin/marketplace.json".into(),
            false,
            manifest.into_bytes(),
        ),
        ("README.md".into(), false, b"# test marketplace\n".to_vec()),
    ];
    for p in ["alpha", "beta", "gamma"] {
        files.push((
            format!("plugins/{p}/.claude-plugin/plugin.json"),
            false,
            format!("{{\"name\":\"{p}\",\"version\":\"{version}\",\"description\":\"{p}\"}}\n")
                .into_bytes(),
        ));
        files.push((format!("plugins/{p}/commands/{p}.md"), false, format!("---\ndescription: {p} command\n---\n\nThe {p} command, v{version}. Unique text: {p}-{name}-{version}.\n").into_bytes()));
        files.push((
            format!("plugins/{p}/skills/{p}-skill/SKILL.md"),
            false,
            format!("---\nname: {p}-skill\ndescription: {p} skill\n---\n\n{p} skill body {name}\n")
                .into_bytes(),
        ));
    }
    files.push((
        "plugins/alpha/scripts/run.sh".into(),
        true,
        b"#!/bin/sh\necho alpha\n".to_vec(),
    ));
    files.push(("plugins/beta/empty.txt".into(), false, Vec::new()));
    files
}

/// The files of plugin `p` in `files`, relative to its root.
pub fn plugin_files(files: &[FileSpec], p: &str) -> Vec<FileSpec> {
    let prefix = format!("plugins/{p}/");
    files
        .iter()
        .filter_map(|(path, exec, c)| {
            Some((path.strip_prefix(&prefix)?.to_string(), *exec, c.clone()))
        })
        .collect()
}

/// Plugin `p`'s files as the Worker serves them: as upstream, except that
/// its `plugin.json` version `V` becomes the content version
/// `V+<12 hex>`, the hex being the first 12 of the sha256 over the sorted
/// `path\0sha256(content)\0exec\n` lines of its upstream files (README,
/// "Content versions"). Computed here from the bytes, not by the Worker's
/// code.
pub fn served_plugin_files(files: &[FileSpec], p: &str) -> Vec<FileSpec> {
    let upstream = plugin_files(files, p);
    let version = content_version_of(&upstream, plugin_json_version(&upstream));
    upstream
        .into_iter()
        .map(|(path, exec, content)| {
            if path != ".claude-plugin/plugin.json" {
                return (path, exec, content);
            }
            let text = String::from_utf8(content).unwrap();
            let old = plugin_json_version(&[(path.clone(), exec, text.clone().into_bytes())])
                .expect("fixtures' plugin.json has a version");
            let served = text.replacen(
                &format!("\"version\":\"{old}\""),
                &format!("\"version\":\"{version}\""),
                1,
            );
            assert_ne!(
                served, text,
                "fixture plugin.json writes \"version\":\"…\" compactly"
            );
            (path, exec, served.into_bytes())
        })
        .collect()
}

/// The version in a file list's `.claude-plugin/plugin.json`, if any.
fn plugin_json_version(files: &[FileSpec]) -> Option<String> {
    let (_, _, pj) = files
        .iter()
        .find(|(p, _, _)| p == ".claude-plugin/plugin.json")?;
    let v: serde_json::Value = serde_json::from_slice(pj).ok()?;
    Some(v.get("version")?.as_str()?.to_string())
}

/// `<author or 0.0.0>+<12 hex of the files' digest>` (see
/// `served_plugin_files`).
pub fn content_version_of(files: &[FileSpec], author: Option<String>) -> String {
    use sha2::{Digest, Sha256};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut lines: Vec<String> = files
        .iter()
        .map(|(p, exec, c)| format!("{p}\0{}\0{}\n", hex(&Sha256::digest(c)), *exec as u8))
        .collect();
    lines.sort();
    let digest = hex(&Sha256::digest(lines.concat().as_bytes()));
    format!(
        "{}+{}",
        author.unwrap_or_else(|| "0.0.0".into()),
        &digest[..12]
    )
}

/// Unpacks a ZIP with Python's zipfile (independent of our code):
/// path → (exec, content).
pub fn python_unzip(zip: &[u8]) -> super::checks::ExpectedFiles {
    let tmp = super::git_cli::TempDir::new("unzip");
    let (archive, out) = (tmp.path().join("m.zip"), tmp.path().join("out"));
    std::fs::write(&archive, zip).unwrap();
    let script = "import zipfile,sys,json,os\n\
                  z=zipfile.ZipFile(sys.argv[1]); meta={}\n\
                  for i in z.infolist():\n\
                  \x20if i.is_dir(): continue\n\
                  \x20p=os.path.join(sys.argv[2],i.filename); os.makedirs(os.path.dirname(p),exist_ok=True)\n\
                  \x20open(p,'wb').write(z.read(i)); meta[i.filename]=bool((i.external_attr>>16)&0o100)\n\
                  print(json.dumps(meta))";
    let run = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&archive)
        .arg(&out)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is needed to check ZIPs independently ({e}); install python3")
        });
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    meta.as_object()
        .unwrap()
        .iter()
        .map(|(path, exec)| {
            let content = std::fs::read(out.join(path)).unwrap();
            (path.clone(), (exec.as_bool().unwrap(), content))
        })
        .collect()
}
