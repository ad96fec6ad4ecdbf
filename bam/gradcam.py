"""Grad-CAM (Selvaraju et al., ICCV 2017): where the evidence for one class lies, by gradients.

For a class c and the feature maps A^k of a layer (here: the output of the last ResNet stage),

    alpha_k = mean_{i,j} dy_c / dA^k_ij,        L_c = ReLU(sum_k alpha_k A^k)

Unlike BAM's maps, which the network computes for every image whatever it will predict,
Grad-CAM is an explanation computed afterwards, for one chosen class.
"""

from __future__ import annotations

import torch
from torch import nn

from bam.models.insert import resnet_stages
from bam.runtime import eval_mode, model_device


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor | int | None = None,
    layer: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps ``(B, h, w)`` at ``layer``'s resolution, and the predicted classes ``(B,)``.

    ``target``: the class to explain, one for all images or one per image; by default the
    predicted class. ``layer`` defaults to the last stage of a ResNet. Images are moved to the
    model's device; the maps come back on the CPU. The model runs in eval mode (its mode is
    restored) and its parameters' ``.grad`` are left untouched.
    """
    layer = resnet_stages(model)[-1] if layer is None else layer
    images = images.to(model_device(model))
    seen: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, output: seen.append(output))
    try:
        with eval_mode(model), torch.enable_grad():
            logits = model(images)
            preds = logits.argmax(1)
            if target is None:
                target = preds
            target = torch.as_tensor(target, device=logits.device).expand(len(images))
            if target.min() < 0 or target.max() >= logits.shape[1]:
                raise ValueError(f"target classes must lie in [0, {logits.shape[1] - 1}]")
            if not seen:
                raise ValueError("the chosen layer did not run in the forward pass")
            # Images do not interact in eval mode, so one backward pass of the summed scores
            # gives every image the gradient of its own score.
            score = logits.gather(1, target[:, None]).sum()
            (grads,) = torch.autograd.grad(score, seen[-1])
    finally:
        handle.remove()
    weights = grads.mean((2, 3), keepdim=True)
    cams = torch.relu((weights * seen[-1]).sum(1))
    return cams.detach().float().cpu(), preds.cpu()
