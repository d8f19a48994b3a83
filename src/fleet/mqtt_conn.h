// MqttConn: a minimal non-blocking MQTT 3.1.1 client for the fleet's event loop — CONNECT,
// SUBSCRIBE, PUBLISH at QoS 0/1 both ways (incoming QoS 1 acknowledged), PINGREQ, DISCONNECT —
// over TCP or TLS (OpenSSL, optional client certificate). One descriptor per connection
// (libmosquitto needs three, which caps a process at a third of its open-file limit), no threads,
// no locks: the owner calls OnReadable / OnWritable when epoll says so and arms EPOLLOUT while
// wants_write(). Outgoing QoS 1 messages are not retransmitted: devices use clean sessions and
// ask start-next again after a reconnect, as the Device SDK samples do.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace iotjobs::fleet {

struct MqttConnectOptions {
  sockaddr_in broker{};
  sockaddr_in bind{};  // sin_addr 0: any
  std::string client_id, username, password;
  int keepalive_seconds = 60;
  SSL_CTX* tls = nullptr;           // set: TLS
  std::string cert_file, key_file;  // client certificate (mTLS)
};

class MqttConn {
 public:
  struct Handler {
    virtual ~Handler() = default;
    virtual void OnConnack(int return_code) = 0;  // 0: accepted
    virtual void OnSuback() = 0;
    virtual void OnMessage(std::string_view topic, std::string_view payload) = 0;
    virtual void OnClosed(const std::string& why) = 0;  // the descriptor is already closed
  };

  explicit MqttConn(Handler* h) : handler_(h) {}
  ~MqttConn();
  MqttConn(const MqttConn&) = delete;
  MqttConn& operator=(const MqttConn&) = delete;

  // Starts a non-blocking connect; false (with `why`) when the socket cannot even be created.
  bool Connect(const MqttConnectOptions& o, std::string* why);
  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  bool wants_write() const {
    return fd_ >= 0 && (connecting_ || want_write_ || out_.size() > out_off_);
  }

  void OnReadable();
  void OnWritable();
  // Keepalive: sends PINGREQ when idle for keepalive/2; closes after 1.5 × keepalive of silence.
  void Tick(int64_t now_ms);

  void Subscribe(const std::vector<std::string>& topics, int qos);
  void Publish(std::string_view topic, std::string_view payload, int qos);
  // Sends DISCONNECT (best effort) and closes.
  void Disconnect();

 private:
  void Close(const std::string& why);
  void StartMqtt();
  bool Handshake();
  void Flush();
  void Parse();
  void Append(uint8_t header, const std::string& body);
  uint16_t NextId() { return next_id_ = next_id_ == 65535 ? 1 : next_id_ + 1; }

  Handler* handler_;
  MqttConnectOptions options_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool connecting_ = false;   // TCP connect in progress
  bool handshaking_ = false;  // TLS handshake in progress
  bool want_write_ = false;   // TLS needs the socket writable to make progress
  bool in_parse_ = false;     // replies written by handlers go out in one send after parsing
  std::string in_, out_;
  size_t out_off_ = 0;
  uint16_t next_id_ = 0;
  int64_t last_out_ms_ = 0, last_in_ms_ = 0;
};

}  // namespace iotjobs::fleet
