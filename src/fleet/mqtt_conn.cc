#include "fleet/mqtt_conn.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace iotjobs::fleet {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void PutU16(std::string& s, size_t v) {
  s += static_cast<char>((v >> 8) & 0xff);
  s += static_cast<char>(v & 0xff);
}
void PutStr(std::string& s, std::string_view v) {
  PutU16(s, v.size());
  s.append(v);
}

std::string SslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return e ? buf : "TLS error";
}

}  // namespace

MqttConn::~MqttConn() {
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

bool MqttConn::Connect(const MqttConnectOptions& o, std::string* why) {
  options_ = o;
  in_.clear();
  out_.clear();
  out_off_ = 0;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *why = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o.bind.sin_addr.s_addr != 0) {
    setsockopt(fd_, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&o.bind), sizeof o.bind) != 0) {
      *why = std::string("bind: ") + std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
      return false;
    }
  }
  int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&o.broker), sizeof o.broker);
  if (rc != 0 && errno != EINPROGRESS) {
    *why = std::string("connect: ") + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  connecting_ = true;
  last_in_ms_ = last_out_ms_ = NowMs();
  return true;
}

void MqttConn::Close(const std::string& why) {
  if (fd_ < 0) return;
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  ::close(fd_);
  fd_ = -1;
  connecting_ = handshaking_ = want_write_ = false;
  handler_->OnClosed(why);
}

void MqttConn::StartMqtt() {
  std::string body;
  PutStr(body, "MQTT");
  body += static_cast<char>(4);  // protocol level 3.1.1
  uint8_t flags = 0x02;          // clean session
  if (!options_.username.empty()) flags |= 0x80;
  if (!options_.password.empty()) flags |= 0x40;
  body += static_cast<char>(flags);
  PutU16(body, options_.keepalive_seconds);
  PutStr(body, options_.client_id);
  if (!options_.username.empty()) PutStr(body, options_.username);
  if (!options_.password.empty()) PutStr(body, options_.password);
  Append(0x10, body);
  Flush();
}

bool MqttConn::Handshake() {
  int rc = SSL_connect(ssl_);
  if (rc == 1) {
    handshaking_ = false;
    want_write_ = false;
    return true;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ) {
    want_write_ = false;
  } else if (err == SSL_ERROR_WANT_WRITE) {
    want_write_ = true;
  } else {
    Close("TLS handshake: " + SslError());
  }
  return false;
}

void MqttConn::OnWritable() {
  if (fd_ < 0) return;
  if (connecting_) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Close(std::string("connect: ") + std::strerror(err));
    connecting_ = false;
    if (options_.tls) {
      ssl_ = SSL_new(options_.tls);
      SSL_set_fd(ssl_, fd_);
      if (!options_.cert_file.empty() &&
          (SSL_use_certificate_chain_file(ssl_, options_.cert_file.c_str()) != 1 ||
           SSL_use_PrivateKey_file(ssl_, options_.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
        return Close("client certificate " + options_.cert_file + ": " + SslError());
      }
      handshaking_ = true;
      if (!Handshake()) return;
    }
    return StartMqtt();
  }
  if (handshaking_) {
    if (Handshake()) StartMqtt();
    return;
  }
  Flush();
}

void MqttConn::Flush() {
  while (fd_ >= 0 && out_off_ < out_.size()) {
    const char* p = out_.data() + out_off_;
    size_t n = out_.size() - out_off_;
    ssize_t w;
    if (ssl_) {
      w = SSL_write(ssl_, p, static_cast<int>(n));
      if (w <= 0) {
        int err = SSL_get_error(ssl_, static_cast<int>(w));
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return;
        return Close("TLS write: " + SslError());
      }
    } else {
      w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return Close(std::string("send: ") + std::strerror(errno));
      }
    }
    out_off_ += static_cast<size_t>(w);
    last_out_ms_ = NowMs();
  }
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  }
}

void MqttConn::OnReadable() {
  if (fd_ < 0) return;
  if (connecting_ || handshaking_) return OnWritable();
  char buf[16384];
  while (fd_ >= 0) {
    ssize_t r;
    if (ssl_) {
      r = SSL_read(ssl_, buf, sizeof buf);
      if (r <= 0) {
        int err = SSL_get_error(ssl_, static_cast<int>(r));
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
        if (err == SSL_ERROR_ZERO_RETURN) return Close("closed by the broker");
        return Close("TLS read: " + SslError());
      }
    } else {
      r = ::recv(fd_, buf, sizeof buf, 0);
      if (r == 0) return Close("closed by the broker");
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return Close(std::string("recv: ") + std::strerror(errno));
      }
    }
    in_.append(buf, static_cast<size_t>(r));
    last_in_ms_ = NowMs();
    if (static_cast<size_t>(r) < sizeof buf && !ssl_) break;
  }
  in_parse_ = true;
  Parse();
  in_parse_ = false;
  if (fd_ >= 0) Flush();
}

void MqttConn::Parse() {
  size_t pos = 0;
  while (fd_ >= 0) {
    if (in_.size() - pos < 2) break;
    uint8_t header = static_cast<uint8_t>(in_[pos]);
    size_t len = 0, mult = 1, i = pos + 1;
    bool complete = false;
    for (int k = 0; k < 4 && i < in_.size(); ++k, ++i) {
      uint8_t b = static_cast<uint8_t>(in_[i]);
      len += (b & 0x7f) * mult;
      mult *= 128;
      if (!(b & 0x80)) {
        complete = true;
        ++i;
        break;
      }
    }
    if (!complete || in_.size() - i < len) break;
    std::string_view body(in_.data() + i, len);
    pos = i + len;
    switch (header >> 4) {
      case 2:  // CONNACK
        handler_->OnConnack(body.size() >= 2 ? static_cast<uint8_t>(body[1]) : 255);
        break;
      case 9:  // SUBACK
        handler_->OnSuback();
        break;
      case 3: {  // PUBLISH
        if (body.size() < 2) return Close("malformed PUBLISH");
        size_t tlen = (static_cast<uint8_t>(body[0]) << 8) | static_cast<uint8_t>(body[1]);
        int qos = (header >> 1) & 3;
        size_t off = 2 + tlen + (qos ? 2 : 0);
        if (off > body.size()) return Close("malformed PUBLISH");
        if (qos == 1) {
          std::string ack;
          ack += body[2 + tlen];
          ack += body[3 + tlen];
          Append(0x40, ack);
        }
        handler_->OnMessage(body.substr(2, tlen), body.substr(off));
        break;
      }
      default:  // PUBACK, PINGRESP, UNSUBACK: nothing to do
        break;
    }
  }
  if (fd_ >= 0) in_.erase(0, pos);
}

void MqttConn::Append(uint8_t header, const std::string& body) {
  out_ += static_cast<char>(header);
  size_t len = body.size();
  do {
    uint8_t b = len % 128;
    len /= 128;
    if (len) b |= 0x80;
    out_ += static_cast<char>(b);
  } while (len);
  out_ += body;
}

void MqttConn::Subscribe(const std::vector<std::string>& topics, int qos) {
  std::string body;
  PutU16(body, NextId());
  for (const auto& t : topics) {
    PutStr(body, t);
    body += static_cast<char>(qos);
  }
  Append(0x82, body);
  if (!in_parse_) Flush();
}

void MqttConn::Publish(std::string_view topic, std::string_view payload, int qos) {
  if (fd_ < 0) return;
  std::string body;
  body.reserve(topic.size() + payload.size() + 4);
  PutStr(body, topic);
  if (qos > 0) PutU16(body, NextId());
  body.append(payload);
  Append(static_cast<uint8_t>(0x30 | (qos > 0 ? 0x02 : 0)), body);
  if (!in_parse_) Flush();
}

void MqttConn::Tick(int64_t now_ms) {
  if (fd_ < 0 || connecting_ || handshaking_) return;
  int64_t ka = options_.keepalive_seconds * 1000LL;
  if (now_ms - last_in_ms_ > ka * 3 / 2) return Close("keepalive: the broker went silent");
  if (now_ms - last_out_ms_ >= ka / 2) {
    Append(0xC0, "");
    Flush();
  }
}

void MqttConn::Disconnect() {
  if (fd_ < 0) return;
  if (!connecting_ && !handshaking_) {
    Append(0xE0, "");
    Flush();
  }
  Close("disconnected");
}

}  // namespace iotjobs::fleet
