"""ITU-T G.107 E-model: estimated call quality (R-factor and MOS) from delay, loss and jitter.

The E-model rates a telephone connection on a 0-100 scale, R = Ro - Is - Id - Ie,eff + A
(ITU-T G.107 (06/2015) clause 7):
- Ro: the basic signal-to-noise ratio and Is: impairments simultaneous with speech (loudness,
  sidetone, quantisation). Computed here from the G.107 default parameters (Table 3: SLR 8 dB,
  RLR 2 dB, STMR 15 dB, LSTR 18 dB, Ds = Dr = 3, Nc -70 dBm0p, Nfor -64 dBmp, Ps = Pr = 35 dB(A),
  qdu 1, TELR 65 dB, WEPL 110 dB). With every default and no delay R = 93.2, as G.107 quotes.
- Id = Idte + Idle + Idd: talker echo, listener echo and pure delay, from the mean one-way
  (mouth-to-ear) delay Ta; as G.107 recommends when nothing else is known, T = Ta and Tr = 2 Ta.
  Idd = 0 up to mT = 100 ms, then 25 {(1+X^6)^(1/6) - 3 (1+(X/3)^6)^(1/6) + 2}, X = log2(Ta/100).
- Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl) (G.107 eq. 7-29): the codec's impairment Ie
  grown by packet loss Ppl (%), with the codec's robustness Bpl and the burst ratio BurstR (1 for
  random loss, above 1 when losses come in bursts). G.711 with packet-loss concealment: Ie = 0,
  Bpl = 25.1 (ITU-T G.113 Appendix I, Table I.3).
- A: the advantage factor, 0 (a wired office phone: no allowance).
MOS = 1 + 0.035 R + R (R - 60)(100 - R) 7e-6 for 0 < R < 100 (G.107 Annex B, eq. B-4); R 80 is
MOS 4.03 ("satisfied"), R 70 is 3.60, R 60 is 3.10 (ITU-T G.109 Table 1).

Mouth-to-ear delay from a network measurement: Ta = one-way network delay (half the median round
trip) + 20 ms packetisation (one G.711 frame per packet, as our 50 packets/s stream) + the jitter
buffer, taken as twice the measured jitter and at least one 20 ms frame (a common adaptive
jitter-buffer setting; late packets beyond it are not counted as lost, which makes the estimate
slightly optimistic on very jittery links).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# G.107 Table 3 default values.
SLR, RLR, STMR, LSTR, DS, DR = 8.0, 2.0, 15.0, 18.0, 3.0, 3.0
TELR, WEPL, QDU = 65.0, 110.0, 1.0
NC, NFOR, PS, PR = -70.0, -64.0, 35.0, 35.0
MT_MS, ST = 100.0, 1.0  # G.107 (2015) delay sensitivity: minimum perceivable delay, sensitivity

# G.711 with packet-loss concealment (G.113 Appendix I, Table I.3).
G711_IE, G711_BPL = 0.0, 25.1
FRAME_MS = 20.0  # one G.711 frame per packet, 50 packets/s
MIN_JITTER_BUFFER_MS = 20.0


@dataclass(frozen=True)
class CallQuality:
    r_factor: float
    mos: float
    mouth_to_ear_ms: float
    ie_eff: float
    delay_impairment: float


def mos_from_r(r: float) -> float:
    """G.107 Annex B: R-factor to estimated MOS (conversational quality, 1-4.5)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def ie_eff(
    loss_pct: float, burst_r: float = 1.0, ie: float = G711_IE, bpl: float = G711_BPL
) -> float:
    """G.107 eq. 7-29: equipment impairment grown by packet loss (loss in %, 0-100)."""
    ppl = max(0.0, min(100.0, loss_pct))
    burst = max(1.0, burst_r)
    return ie + (95 - ie) * ppl / (ppl / burst + bpl)


def _noise_floor() -> float:
    """No (dBm0p): circuit, send-side room, receive-side room and far-end noise added in power."""
    olr = SLR + RLR
    nos = PS - SLR - DS - 100 + 0.004 * (PS - olr - DS - 14) ** 2
    pre = PR + 10 * math.log10(1 + 10 ** ((10 - LSTR) / 10))
    nor = RLR - 121 + pre + 0.008 * (pre - 35) ** 2
    nfo = NFOR + RLR  # far-end noise referred to the receive side
    return float(10 * math.log10(sum(10 ** (n / 10) for n in (NC, nos, nor, nfo))))


def _ro(no: float) -> float:
    return 15 - 1.5 * (SLR + no)


def _is(ro: float, no: float, t_ms: float) -> float:
    """Is = Iolr + Ist + Iq (G.107 7.3); Ist depends on delay through the echo path of STMRo."""
    olr = SLR + RLR
    x_olr = olr + 0.2 * (64 + no - RLR)
    iolr = 20 * ((1 + (x_olr / 8) ** 8) ** (1 / 8) - x_olr / 8)
    stmro = -10 * math.log10(10 ** (-STMR / 10) + math.exp(-t_ms / 4) * 10 ** (-TELR / 10))
    ist = (
        12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8)
        - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
        - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13)
        + 29
    )
    q = 37 - 15 * math.log10(QDU)
    g = 1.07 + 0.258 * q + 0.0602 * q**2
    y = (ro - 100) / 15 + 46 / 8.4 - g / 9
    z = 46 / 30 - g / 40
    iq = 15 * math.log10(1 + 10**y + 10**z)
    return float(iolr + ist + iq)


def delay_impairment(ta_ms: float) -> float:
    """Id = Idte + Idle + Idd for a mean one-way delay Ta (ms), with T = Ta and Tr = 2 Ta."""
    no = _noise_floor()
    ro = _ro(no)
    t = max(0.0, ta_ms)
    tr = 2 * t
    # Talker echo (G.107 7.4, eq. 7-21..7-24).
    roe = -1.5 * (no - RLR)
    terv = TELR - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t**2)
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    # Listener echo (eq. 7-25, 7-26).
    rle = 10.5 * (WEPL + 7) * (tr + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    return float(idte + idle + absolute_delay_impairment(t))


def absolute_delay_impairment(ta_ms: float) -> float:
    """Idd (G.107 eq. 7-27, 7-28): zero up to mT = 100 ms one-way, then growing."""
    if ta_ms <= MT_MS:
        return 0.0
    x = math.log10(ta_ms / MT_MS) / math.log10(2)
    six = 6 * ST
    return float(25 * ((1 + x**six) ** (1 / six) - 3 * (1 + (x / 3) ** six) ** (1 / six) + 2))


def r_factor(ta_ms: float, loss_pct: float, burst_r: float = 1.0, advantage: float = 0.0) -> float:
    """The R-factor for a G.711+PLC call with mouth-to-ear delay Ta (ms) and loss (%)."""
    no = _noise_floor()
    ro = _ro(no)
    r = ro - _is(ro, no, ta_ms) - delay_impairment(ta_ms) - ie_eff(loss_pct, burst_r) + advantage
    return max(0.0, min(100.0, r))


def mouth_to_ear_ms(rtt_ms: float, jitter_ms: float) -> float:
    """Network one-way delay (half the round trip) + packetisation + jitter buffer."""
    return rtt_ms / 2 + FRAME_MS + max(MIN_JITTER_BUFFER_MS, 2 * jitter_ms)


def call_quality(
    rtt_ms: float, jitter_ms: float, loss_pct: float, burst_r: float = 1.0
) -> CallQuality:
    """Estimated quality of a G.711 call over a network with these figures."""
    ta = mouth_to_ear_ms(rtt_ms, jitter_ms)
    r = r_factor(ta, loss_pct, burst_r)
    return CallQuality(
        r_factor=round(r, 1),
        mos=round(mos_from_r(r), 2),
        mouth_to_ear_ms=round(ta, 1),
        ie_eff=round(ie_eff(loss_pct, burst_r), 2),
        delay_impairment=round(delay_impairment(ta), 2),
    )
