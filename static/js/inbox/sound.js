// The inbox's chimes: a new conversation, a ringing call. Off unless the counsellor turns it on.
import { storage } from "../common.js";
import { ui } from "./state.js";

const KEY_SOUND = "helpline.inbox.sound";

let audio = null;
let soundOn = storage.get(KEY_SOUND) === "on";
ui.sound.checked = soundOn;

function unlockAudio() {
  if (!soundOn) return;
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

export function chime(tones = [660, 880]) {
  if (!soundOn) return;
  unlockAudio();
  if (!audio) return;
  const start = audio.currentTime + 0.01;
  tones.forEach((frequency, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    const t = start + i * 0.18;
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.4);
  });
}

ui.sound.addEventListener("change", () => {
  soundOn = ui.sound.checked;
  storage.set(KEY_SOUND, soundOn ? "on" : "off");
  if (soundOn) chime();
});
// Browsers only allow sound after the person has interacted with the page.
document.addEventListener("pointerdown", unlockAudio, { once: true });
document.addEventListener("keydown", unlockAudio, { once: true });

export function ring() {
  chime([880, 660, 880, 660]);
}
