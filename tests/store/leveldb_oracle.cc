// The LevelDB library as an oracle for the upstream index tests: the same
// TableBuilder that upstream stenotype links writes tables, and LevelDB's own
// Table reader (checksums verified) dumps them.  Lines are "<hex key> <hex value>".
//
//   leveldb_oracle dump TABLE      every entry of TABLE, in order, to stdout
//   leveldb_oracle get TABLE HEX   the value of one key (exit 1 if absent)
//   leveldb_oracle build TABLE     entries from stdin (keys increasing) into TABLE,
//                                  with stenotype's options (no compression)
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <leveldb/env.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/table.h>
#include <leveldb/table_builder.h>

static std::string hex(const leveldb::Slice& s) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

static bool unhex(const std::string& h, std::string* out) {
  if (h.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < h.size(); i += 2) {
    out->push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return true;
}

static int fail(const leveldb::Status& s) {
  std::cerr << s.ToString() << "\n";
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: leveldb_oracle dump|get|build TABLE [HEX]\n";
    return 64;
  }
  std::string mode = argv[1], path = argv[2];
  leveldb::Env* env = leveldb::Env::Default();
  leveldb::Options options;
  options.compression = leveldb::kNoCompression;
  options.paranoid_checks = true;
  if (mode == "build") {
    leveldb::WritableFile* file;
    leveldb::Status s = env->NewWritableFile(path, &file);
    if (!s.ok()) return fail(s);
    leveldb::TableBuilder builder(options, file);
    std::string line;
    while (std::getline(std::cin, line)) {
      size_t sp = line.find(' ');
      std::string k, v;
      if (sp == std::string::npos || !unhex(line.substr(0, sp), &k) ||
          !unhex(line.substr(sp + 1), &v)) {
        std::cerr << "bad line: " << line << "\n";
        return 65;
      }
      builder.Add(k, v);
    }
    s = builder.Finish();
    if (s.ok()) s = file->Close();
    delete file;
    return s.ok() ? 0 : fail(s);
  }
  uint64_t size;
  leveldb::Status s = env->GetFileSize(path, &size);
  if (!s.ok()) return fail(s);
  leveldb::RandomAccessFile* file;
  s = env->NewRandomAccessFile(path, &file);
  if (!s.ok()) return fail(s);
  std::unique_ptr<leveldb::RandomAccessFile> file_owner(file);
  leveldb::Table* table;
  s = leveldb::Table::Open(options, file, size, &table);
  if (!s.ok()) return fail(s);
  std::unique_ptr<leveldb::Table> table_owner(table);
  leveldb::ReadOptions ro;
  ro.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(table->NewIterator(ro));
  if (mode == "dump") {
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::cout << hex(it->key()) << " " << hex(it->value()) << "\n";
    }
  } else if (mode == "get" && argc == 4) {
    std::string k;
    if (!unhex(argv[3], &k)) return 65;
    it->Seek(k);
    if (!it->Valid() || it->key() != leveldb::Slice(k)) return it->status().ok() ? 1 : fail(it->status());
    std::cout << hex(it->value()) << "\n";
  } else {
    std::cerr << "unknown mode " << mode << "\n";
    return 64;
  }
  return it->status().ok() ? 0 : fail(it->status());
}
