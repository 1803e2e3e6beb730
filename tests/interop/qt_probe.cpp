// The Qt side of the interop tests: a QSharedMemory driven by one command per line on
// standard input, one reply per line on standard output (peer.h has the protocol).
// Built against Qt 5 (qt5_probe) and Qt 6 (qt6_probe) from this one source.
//
//   qt_probe names FILE  reads hex-encoded UTF-8 keys, one a line, and prints for each the
//                    hex of the bytes Qt names its object with: QFile::encodeName(
//                    QSharedMemory(key).nativeKey()).
//   qt_probe serve   the command loop.
#include <QByteArray>
#include <QFile>
#include <QSharedMemory>
#include <QString>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

static std::string hex(const QByteArray &b) { return b.toHex().toStdString(); }

static QByteArray unhex(const std::string &s) {
  return QByteArray::fromHex(QByteArray::fromStdString(s));
}

// The QString whose toUtf8() is exactly these bytes. QString::fromUtf8() (and so
// QString(const char *)) drops a leading byte order mark (U+FEFF): keep each one as a
// character, so that Qt hashes the same bytes cshm was given.
static QString key_of(const QByteArray &utf8) {
  static const char bom[] = "\xEF\xBB\xBF";
  QString key;
  int skip = 0;
  while (utf8.mid(skip, 3) == QByteArray(bom)) {
    key += QChar(0xFEFF);
    skip += 3;
  }
  key += QString::fromUtf8(utf8.mid(skip));
  if (key.toUtf8() != utf8) {
    std::fprintf(stderr, "qt_probe: %s does not round-trip through QString\n",
                 utf8.toHex().constData());
    std::exit(4);
  }
  return key;
}

static void reply(const std::string &line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

static void fail(const QSharedMemory &m) {
  reply("err " + std::to_string(int(m.error())) + " " + m.errorString().toStdString());
}

static int names(const char *path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path);
    return 2;
  }
  QSharedMemory m;
  std::string line;
  while (std::getline(in, line)) {
    m.setKey(key_of(unhex(line)));
    reply(hex(QFile::encodeName(m.nativeKey())));
  }
  return 0;
}

static int serve() {
  QSharedMemory m;
  std::string line;
  reply(std::string("ready qt ") + QT_VERSION_STR);
  while (std::getline(std::cin, line)) {
    std::string cmd = line.substr(0, line.find(' '));
    std::string arg = line.size() > cmd.size() ? line.substr(cmd.size() + 1) : std::string();
    if (cmd == "key") {
      m.setKey(key_of(unhex(arg)));
      reply("ok " + hex(QFile::encodeName(m.nativeKey())));
    } else if (cmd == "create") {
      if (m.create(std::atoi(arg.c_str())))
        reply("ok " + std::to_string(m.size()));
      else
        fail(m);
    } else if (cmd == "attach") {
      if (m.attach(arg == "ro" ? QSharedMemory::ReadOnly : QSharedMemory::ReadWrite))
        reply("ok " + std::to_string(m.size()));
      else
        fail(m);
    } else if (cmd == "lock") {
      if (m.lock())
        reply("ok");
      else
        fail(m);
    } else if (cmd == "unlock") {
      if (m.unlock())
        reply("ok");
      else
        fail(m);
    } else if (cmd == "write") {
      QByteArray bytes = unhex(arg);
      if (!m.isAttached() || bytes.size() > m.size()) {
        reply("err write: not attached or too long");
      } else {
        std::memcpy(m.data(), bytes.constData(), size_t(bytes.size()));
        reply("ok");
      }
    } else if (cmd == "read") {
      int n = std::atoi(arg.c_str());
      if (!m.isAttached() || n > m.size())
        reply("err read: not attached or too long");
      else
        reply("ok " + hex(QByteArray(static_cast<const char *>(m.constData()), n)));
    } else if (cmd == "size") {
      reply("ok " + std::to_string(m.size()));
    } else if (cmd == "detach") {
      if (m.detach())
        reply("ok");
      else
        fail(m);
    } else if (cmd == "pid") {
      reply("ok " + std::to_string(getpid()));
    } else if (cmd == "exit") {
      break; // ~QSharedMemory detaches and cleans up its semaphore
    } else {
      reply("err unknown command " + cmd);
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && std::strcmp(argv[1], "names") == 0)
    return names(argv[2]);
  if (argc == 2 && std::strcmp(argv[1], "serve") == 0)
    return serve();
  std::fprintf(stderr, "usage: %s names FILE | serve\n", argv[0]);
  return 2;
}
